/*
 * kontor-admin org: organisations (the unified company accounts).
 *
 * Identifiers are checked with kt_ident_* (USt-IdNr check digit,
 * Steuernummer to the 13-digit federal form, Handelsregister entry with a
 * known court, W-IdNr format). An identifier that fails its check is still
 * stored, flagged *_valid "0", and never indexed: a warning says so. Only
 * valid identifiers can be searched for (org find refuses the others with
 * the reason), because only they are indexed.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kontor/account.h"
#include "kontor/ident.h"
#include "kontor/land.h"
#include "kontor/norm.h"
#include "kontor/util.h"

#include "admin.h"

#define NAME_MAX_BYTES 300
#define TEXT_MAX_BYTES 200
#define IDENT_MAX_BYTES 200
#define SOURCE_ID_MAX 64
#define MAX_SOURCES 32

enum {
	O_LEGAL_NAME = 0x100,
	O_LEGAL_FORM,
	O_VAT,
	O_TAXNO,
	O_TAXNO_LAND,
	O_REGISTER,
	O_WID,
	O_STREET,
	O_HOUSE,
	O_POSTCODE,
	O_CITY,
	O_SOURCE,
	O_EXPECT,
};

static const struct option org_opts[] = {
    {"legal-name", required_argument, NULL, O_LEGAL_NAME},
    {"legal-form", required_argument, NULL, O_LEGAL_FORM},
    {"vat", required_argument, NULL, O_VAT},
    {"taxno", required_argument, NULL, O_TAXNO},
    {"taxno-land", required_argument, NULL, O_TAXNO_LAND},
    {"register", required_argument, NULL, O_REGISTER},
    {"wid", required_argument, NULL, O_WID},
    {"street", required_argument, NULL, O_STREET},
    {"house-number", required_argument, NULL, O_HOUSE},
    {"postcode", required_argument, NULL, O_POSTCODE},
    {"city", required_argument, NULL, O_CITY},
    {"source", required_argument, NULL, O_SOURCE},
    {"expect-version", required_argument, NULL, O_EXPECT},
    {NULL, 0, NULL, 0},
};

/* What the options said; NULL = not given, "" = given empty (update:
 * remove). */
struct org_in {
	const char *legal_name, *legal_form, *vat, *taxno, *taxno_land;
	const char *reg, *wid, *street, *house, *postcode, *city;
	const char *expect;
	const char *sources[MAX_SOURCES];
	int n_sources;
	int allowed; /* bit mask of (1 << (val - 0x100)) the command takes */
	int n_find;  /* org find: how many identifier options */
};

static int on_org_opt(struct adm *a, void *ctx, int val, const char *arg)
{
	struct org_in *in = ctx;

	if (!(in->allowed & (1 << (val - O_LEGAL_NAME))))
		return adm_usage(a, "option --%s does not apply here",
				 org_opts[val - O_LEGAL_NAME].name);
	switch (val) {
	case O_LEGAL_NAME:
		in->legal_name = arg;
		break;
	case O_LEGAL_FORM:
		in->legal_form = arg;
		break;
	case O_VAT:
		in->vat = arg;
		in->n_find++;
		break;
	case O_TAXNO:
		in->taxno = arg;
		in->n_find++;
		break;
	case O_TAXNO_LAND:
		in->taxno_land = arg;
		break;
	case O_REGISTER:
		in->reg = arg;
		in->n_find++;
		break;
	case O_WID:
		in->wid = arg;
		in->n_find++;
		break;
	case O_STREET:
		in->street = arg;
		break;
	case O_HOUSE:
		in->house = arg;
		break;
	case O_POSTCODE:
		in->postcode = arg;
		break;
	case O_CITY:
		in->city = arg;
		break;
	case O_SOURCE:
		if (in->n_sources >= MAX_SOURCES)
			return adm_usage(a, "at most %d --source options",
					 MAX_SOURCES);
		in->sources[in->n_sources++] = arg;
		in->n_find++;
		break;
	case O_EXPECT:
		in->expect = arg;
		break;
	}
	return 0;
}

#define ALLOW(v) (1 << ((v)-O_LEGAL_NAME))
#define FIELDS                                                                 \
	(ALLOW(O_LEGAL_NAME) | ALLOW(O_LEGAL_FORM) | ALLOW(O_VAT) |            \
	 ALLOW(O_TAXNO) | ALLOW(O_TAXNO_LAND) | ALLOW(O_REGISTER) |            \
	 ALLOW(O_WID) | ALLOW(O_STREET) | ALLOW(O_HOUSE) | ALLOW(O_POSTCODE) | \
	 ALLOW(O_CITY) | ALLOW(O_SOURCE))

/* Warnings go to stderr at once and into the JSON result. */
static void warn(struct adm *a, json_t *warnings, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void warn(struct adm *a, json_t *warnings, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s %s %s: warning: %s\n", ADM_PROG, a->cmd->group,
		a->cmd->name, msg);
	json_array_append_new(warnings, json_string(msg));
}

/* Source links ------------------------------------------------------------- */

/* "by:4711" / "DE-BY:4711" -> "BY:4711" into out (96 bytes). */
static int source_norm(struct adm *a, const char *in, char out[96])
{
	const char *colon = strchr(in, ':');
	char land[8];
	enum kt_land l;
	size_t n;
	int r;

	if ((r = adm_check_text(a, "--source", in, 80, 0)) != 0)
		return r;
	if (colon == NULL || colon == in || colon - in >= (long)sizeof(land))
		return adm_invalid(a,
				   "--source: '%s' is not LAND:ID (e.g. "
				   "BY:4711)",
				   in);
	n = (size_t)(colon - in);
	for (size_t i = 0; i < n; i++)
		land[i] = (char)toupper((unsigned char)in[i]);
	land[n] = '\0';
	if (kt_land_parse(land, &l) != KT_OK)
		return adm_invalid(a,
				   "--source: unknown Land '%.*s' (one of "
				   "%s)",
				   (int)n, in, KT_LAND_CODES);
	n = strlen(colon + 1);
	if (n == 0 || n > SOURCE_ID_MAX)
		return adm_invalid(a,
				   "--source: the legacy id after '%s:' must "
				   "have 1 to %d characters",
				   kt_land_code(l), SOURCE_ID_MAX);
	for (const char *p = colon + 1; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return adm_invalid(a,
					   "--source: the legacy id '%s' must "
					   "be printable ASCII without spaces",
					   colon + 1);
	snprintf(out, 96, "%s:%s", kt_land_code(l), colon + 1);
	return 0;
}

static int sources_json(struct adm *a, const struct org_in *in, json_t **out)
{
	json_t *arr = json_array();
	char s[96];
	int r;

	*out = NULL;
	for (int i = 0; i < in->n_sources; i++) {
		size_t j;
		json_t *v;
		int dup = 0;

		if ((r = source_norm(a, in->sources[i], s)) != 0) {
			json_decref(arr);
			return r;
		}
		json_array_foreach(arr, j, v) dup |=
		    strcmp(json_string_value(v), s) == 0;
		if (!dup)
			json_array_append_new(arr, json_string(s));
	}
	*out = arr;
	return 0;
}

/* Identifiers -------------------------------------------------------------- */

/*
 * The Länder to read a Land-notation Steuernummer in, by preference: the
 * one named with --taxno-land, the postcode's, the sources'.
 */
static int taxno_lands(struct adm *a, const struct org_in *in,
		       const char *postcode, json_t *sources,
		       enum kt_land lands[MAX_SOURCES + 2], size_t *n)
{
	enum kt_land l;
	size_t i;
	json_t *v;

	*n = 0;
	if (in->taxno_land != NULL) {
		char up[8] = "";
		size_t k = strlen(in->taxno_land);
		for (size_t j = 0; j < k && j < sizeof(up) - 1; j++)
			up[j] = (char)toupper((unsigned char)in->taxno_land[j]);
		up[k < sizeof(up) - 1 ? k : sizeof(up) - 1] = '\0';
		if (k >= sizeof(up) || kt_land_parse(up, &l) != KT_OK)
			return adm_invalid(a,
					   "--taxno-land: unknown Land '%s' "
					   "(one of %s)",
					   in->taxno_land, KT_LAND_CODES);
		lands[(*n)++] = l;
	}
	if (postcode != NULL && *postcode &&
	    (l = kt_land_from_postcode(postcode)) != KT_LAND_NONE)
		lands[(*n)++] = l;
	json_array_foreach(sources, i, v)
	{
		char code[8];
		const char *s = json_string_value(v);
		const char *colon = strchr(s, ':');
		if (colon == NULL || colon - s >= (long)sizeof(code))
			continue;
		memcpy(code, s, (size_t)(colon - s));
		code[colon - s] = '\0';
		if (kt_land_parse(code, &l) == KT_OK && *n < MAX_SOURCES + 2)
			lands[(*n)++] = l;
	}
	return 0;
}

static void set(json_t *f, const char *k, const char *v)
{
	json_object_set_new(f, k, json_string(v));
}

/*
 * An identifier field and its _valid flag: "" clears both; a value that
 * normalises is stored normalised and valid; any other is stored as
 * given (or as far as it normalised), flagged invalid, not indexed.
 */
static int field_ident(struct adm *a, const char *opt, const char *key,
		       const char *label,
		       int (*norm)(const char *, char *, struct kt_error *),
		       const char *v, json_t *f, json_t *w)
{
	char out[32] = "", valid[32];
	struct kt_error err;
	int r;

	snprintf(valid, sizeof(valid), "%s_valid", key);
	if ((r = adm_check_text(a, opt, v, IDENT_MAX_BYTES, 1)) != 0)
		return r;
	if (*v == '\0') {
		set(f, key, "");
		set(f, valid, "");
		return 0;
	}
	if (norm(v, out, &err) == KT_OK) {
		set(f, key, out);
		set(f, valid, "1");
		return 0;
	}
	set(f, key, out[0] ? out : v);
	set(f, valid, "0");
	warn(a, w, "%s '%s' is invalid (%s): stored, flagged, not indexed",
	     label, v, err.msg);
	return 0;
}

static int field_taxno(struct adm *a, const char *v, const enum kt_land *lands,
		       size_t n, json_t *f, json_t *w)
{
	char out[14];
	struct kt_error err;
	int r;

	if ((r = adm_check_text(a, "--taxno", v, IDENT_MAX_BYTES, 1)) != 0)
		return r;
	if (*v == '\0') {
		set(f, "taxno", "");
		set(f, "taxno_valid", "");
		return 0;
	}
	if (kt_ident_taxno_resolve(v, lands, n, out, NULL, &err) == KT_OK) {
		set(f, "taxno", out);
		set(f, "taxno_valid", "1");
		return 0;
	}
	set(f, "taxno", v);
	set(f, "taxno_valid", "0");
	warn(a, w,
	     "tax number '%s' is invalid (%s): stored, flagged, not indexed", v,
	     err.msg);
	return 0;
}

static int field_register(struct adm *a, const char *v, json_t *f, json_t *w)
{
	struct kt_ident_register reg;
	struct kt_error err;
	char number[32];
	int r;

	if ((r = adm_check_text(a, "--register", v, IDENT_MAX_BYTES, 1)) != 0)
		return r;
	if (*v == '\0') {
		static const char *const hr[] = {"hr_raw",	  "hr_court",
						 "hr_court_name", "hr_type",
						 "hr_number",	  "hr_valid"};
		for (size_t i = 0; i < sizeof(hr) / sizeof(hr[0]); i++)
			set(f, hr[i], "");
		return 0;
	}
	set(f, "hr_raw", v);
	if (kt_ident_register_parse(v, &reg, &err) != KT_OK) {
		set(f, "hr_court", "");
		set(f, "hr_court_name", "");
		set(f, "hr_type", "");
		set(f, "hr_number", "");
		set(f, "hr_valid", "0");
		warn(a, w,
		     "register entry '%s' is invalid (%s): stored, flagged, "
		     "not indexed",
		     v, err.msg);
		return 0;
	}
	snprintf(number, sizeof(number), "%s%s%s", reg.number,
		 reg.suffix[0] ? " " : "", reg.suffix);
	set(f, "hr_type", kt_ident_regtype_name(reg.type));
	set(f, "hr_number", number);
	if (reg.court_known) {
		/* The court id makes the index key kt_ident_register_key
		 * builds: "kiel|HRB|1234". */
		set(f, "hr_court", reg.court_id);
		set(f, "hr_court_name", reg.court);
		set(f, "hr_valid", "1");
		return 0;
	}
	set(f, "hr_court", reg.court);
	set(f, "hr_court_name", "");
	set(f, "hr_valid", "0");
	if (adm_check_text(a, "--register", reg.court, IDENT_MAX_BYTES, 1) != 0)
		return ADM_USAGE;
	warn(a, w,
	     "register entry '%s' names %s: stored, flagged, not indexed "
	     "(a register number identifies nothing without its court)",
	     v, reg.court[0] ? "an unknown court" : "no court");
	return 0;
}

/* Address parts; creating requires street, postcode and city together. */
static int fields_address(struct adm *a, const struct org_in *in, int creating,
			  json_t *f)
{
	char buf[64];
	unsigned flags = 0;
	struct kt_error err;
	int r;

	if (creating && (in->street || in->house || in->postcode || in->city) &&
	    !(in->street && *in->street && in->postcode && *in->postcode &&
	      in->city && *in->city))
		return adm_usage(a, "an address needs --street, --postcode and "
				    "--city (and usually --house-number)");
	if (in->street != NULL) {
		if ((r = adm_check_text(a, "--street", in->street,
					TEXT_MAX_BYTES, !creating)) != 0)
			return r;
		set(f, "street", in->street);
	}
	if (in->house != NULL) {
		if ((r = adm_check_text(a, "--house-number", in->house, 32,
					1)) != 0)
			return r;
		if (*in->house &&
		    kt_norm_house_number(in->house, buf, sizeof(buf), &err) !=
			KT_OK)
			return adm_invalid(a, "--house-number: '%s': %s",
					   in->house, err.msg);
		set(f, "house_number", *in->house ? buf : "");
	}
	if (in->postcode != NULL) {
		if ((r = adm_check_text(a, "--postcode", in->postcode, 16,
					!creating)) != 0)
			return r;
		if (*in->postcode &&
		    kt_norm_postcode(in->postcode, KT_LAND_NONE, 0, buf, &flags,
				     &err) != KT_OK)
			return adm_invalid(a, "--postcode: '%s': %s",
					   in->postcode, err.msg);
		if (*in->postcode && (flags & KT_NORM_PLZ_PADDED))
			return adm_invalid(a,
					   "--postcode: '%s': a German "
					   "postcode has 5 digits (did you "
					   "mean 0%s?)",
					   in->postcode, in->postcode);
		set(f, "postcode", *in->postcode ? buf : "");
	}
	if (in->city != NULL) {
		if ((r = adm_check_text(a, "--city", in->city, TEXT_MAX_BYTES,
					!creating)) != 0)
			return r;
		set(f, "city", in->city);
	}
	if (creating && in->street != NULL)
		set(f, "country", "DE");
	return 0;
}

/*
 * The organisation fields from the options. current: the stored record
 * (update), for the Land of a tax number. *fields and *warnings are new.
 */
static int build_fields(struct adm *a, const struct org_in *in, int creating,
			json_t *current, json_t *sources, json_t **fields,
			json_t **warnings)
{
	json_t *f = json_object(), *w = json_array();
	enum kt_lf lf;
	enum kt_land lands[MAX_SOURCES + 2];
	size_t n_lands;
	const char *postcode;
	int r = 0;

	*fields = f;
	*warnings = w;
	if (creating && in->legal_name == NULL)
		return adm_usage(a, "--legal-name is required");
	if (in->legal_name != NULL) {
		if (!creating && *in->legal_name == '\0')
			return adm_invalid(a, "--legal-name: an organisation "
					      "always has a legal name");
		if ((r = adm_check_text(a, "--legal-name", in->legal_name,
					NAME_MAX_BYTES, 0)) != 0)
			return r;
		set(f, "legal_name", in->legal_name);
	}
	if (in->legal_form != NULL) {
		if ((r = adm_check_text(a, "--legal-form", in->legal_form, 100,
					1)) != 0)
			return r;
		if (kt_norm_legal_form(in->legal_form, &lf) != KT_OK)
			return adm_invalid(a,
					   "--legal-form: unknown legal form "
					   "'%s' (e.g. GmbH, UG "
					   "(haftungsbeschränkt), AG, KG, "
					   "OHG, GmbH & Co. KG, e.K., eG, "
					   "e.V., or a code such as "
					   "GMBH_CO_KG)",
					   in->legal_form);
		set(f, "legal_form", kt_norm_lf_code(lf));
	}
	if ((r = fields_address(a, in, creating, f)) != 0)
		return r;
	if (in->vat != NULL && (r = field_ident(a, "--vat", "vat", "VAT id",
					  kt_ident_vat_normalize, in->vat, f,
					  w)) != 0)
		return r;
	if (in->wid != NULL && (r = field_ident(a, "--wid", "wid", "W-IdNr",
					  kt_ident_widnr_normalize, in->wid, f,
					  w)) != 0)
		return r;
	if (in->reg != NULL && (r = field_register(a, in->reg, f, w)) != 0)
		return r;
	if (in->taxno_land != NULL && in->taxno == NULL)
		return adm_usage(a, "--taxno-land only goes with --taxno");
	if (in->taxno != NULL) {
		postcode = json_string_value(json_object_get(f, "postcode"));
		if (postcode == NULL)
			postcode = json_string_value(
			    json_object_get(current, "postcode"));
		if ((r = taxno_lands(a, in, postcode, sources, lands,
				     &n_lands)) != 0 ||
		    (r = field_taxno(a, in->taxno, lands, n_lands, f, w)) != 0)
			return r;
	}
	return 0;
}

/* Output ------------------------------------------------------------------- */

static const char *flagged(json_t *o, const char *valid_key)
{
	return strcmp(adm_str(o, valid_key), "1") == 0
		   ? "valid"
		   : "INVALID: stored, not indexed";
}

static void print_ident(json_t *o, const char *label, const char *key,
			const char *valid_key)
{
	char line[512];
	const char *v = adm_str(o, key);

	if (*v == '\0') {
		adm_kv(label, "-");
		return;
	}
	snprintf(line, sizeof(line), "%s (%s)", v, flagged(o, valid_key));
	adm_kv(label, line);
}

static void print_org_fields(json_t *o)
{
	char line[700], t[32];
	enum kt_lf lf;

	adm_kv("id", adm_str(o, "id"));
	adm_kv("legal name", adm_str(o, "legal_name"));
	if (*adm_str(o, "legal_form") &&
	    kt_norm_lf_from_code(adm_str(o, "legal_form"), &lf) == KT_OK) {
		snprintf(line, sizeof(line), "%s (%s)", kt_norm_lf_label(lf),
			 adm_str(o, "legal_form"));
		adm_kv("legal form", line);
	} else {
		adm_kv("legal form", adm_str(o, "legal_form"));
	}
	if (strcmp(adm_str(o, "status"), "merged") == 0) {
		snprintf(line, sizeof(line), "merged into %s",
			 adm_str(o, "merged_into"));
		adm_kv("status", line);
	} else {
		adm_kv("status", adm_str(o, "status"));
	}
	print_ident(o, "VAT id", "vat", "vat_valid");
	print_ident(o, "tax number", "taxno", "taxno_valid");
	if (*adm_str(o, "hr_raw") || *adm_str(o, "hr_number")) {
		if (*adm_str(o, "hr_court_name"))
			snprintf(line, sizeof(line),
				 "%s %s, Amtsgericht %s (%s)",
				 adm_str(o, "hr_type"), adm_str(o, "hr_number"),
				 adm_str(o, "hr_court_name"),
				 flagged(o, "hr_valid"));
		else
			snprintf(line, sizeof(line), "%s (%s)",
				 *adm_str(o, "hr_raw")
				     ? adm_str(o, "hr_raw")
				     : adm_str(o, "hr_number"),
				 flagged(o, "hr_valid"));
		adm_kv("register", line);
	} else {
		adm_kv("register", "-");
	}
	print_ident(o, "W-IdNr", "wid", "wid_valid");
	if (*adm_str(o, "street") || *adm_str(o, "city")) {
		snprintf(line, sizeof(line), "%s %s, %s %s, %s",
			 adm_str(o, "street"), adm_str(o, "house_number"),
			 adm_str(o, "postcode"), adm_str(o, "city"),
			 adm_str(o, "country"));
		adm_kv("address", line);
	} else {
		adm_kv("address", "-");
	}
	adm_kv("version", adm_str(o, "version"));
	adm_time(t, adm_str(o, "created_at"));
	adm_kv("created", t);
	adm_time(t, adm_str(o, "updated_at"));
	adm_kv("updated", t);
}

static void print_members(json_t *members)
{
	size_t i;
	json_t *m;
	char t[32];

	if (json_array_size(members) == 0) {
		adm_kv("members", "-");
		return;
	}
	printf("members:\n");
	printf("  %-24s %-32s %-15s %-20s %s\n", "PERSON", "EMAIL", "ROLE",
	       "GRANTED AT", "GRANTED BY");
	json_array_foreach(members, i, m)
	{
		adm_time(t, adm_str(m, "granted_at"));
		printf("  %-24s %-32s %-15s %-20s %s\n", adm_str(m, "person"),
		       adm_str(m, "email"), adm_str(m, "role"), t,
		       adm_str(m, "granted_by"));
	}
}

static void human_org(struct adm *a, json_t *doc)
{
	json_t *o = json_object_get(doc, "org");
	json_t *s = json_object_get(doc, "sources"), *w;
	const char *from = adm_str(o, "resolved_from");
	size_t i;
	json_t *v;
	char line[1024] = "";

	if (*adm_str(doc, "message"))
		printf("%s\n\n", adm_str(doc, "message"));
	if (*from)
		printf("(%s was merged into %s; showing %s)\n", from,
		       adm_str(o, "id"), adm_str(o, "id"));
	print_org_fields(o);
	json_array_foreach(s, i, v)
	{
		size_t len = strlen(line);
		snprintf(line + len, sizeof(line) - len, "%s%s", i ? ", " : "",
			 json_string_value(v));
	}
	adm_kv("sources", line);
	if ((w = json_object_get(doc, "members")) != NULL)
		print_members(w);
}

/* The organisation (resolved) with its sources and members, as printed by
 * show, find, create, update, merge. message may be NULL. */
static int show(struct adm *a, const char *oid, json_t *org,
		const char *message, json_t *warnings)
{
	json_t *o = org ? json_incref(org) : NULL, *s = NULL, *m = NULL,
	       *doc = NULL;
	const char *id;
	int r;

	if (o == NULL &&
	    (r = adm_call(a,
			  kt_account_org_get(kt_cli_redis(a->cli), oid,
					     kt_cli_done, a->cli),
			  &o, "organisation")) != 0)
		return r;
	id = json_string_value(json_object_get(o, "id"));
	if ((r = adm_call(a,
			  kt_account_org_sources(kt_cli_redis(a->cli), id,
						 kt_cli_done, a->cli),
			  &s, "sources")) != 0 ||
	    (r = adm_call(a,
			  kt_account_org_members(kt_cli_redis(a->cli), id,
						 kt_cli_done, a->cli),
			  &m, "members")) != 0)
		goto out;
	doc = json_pack("{s:O,s:O,s:O}", "org", o, "sources",
			json_object_get(s, "sources"), "members",
			json_object_get(m, "members"));
	if (doc == NULL) {
		r = adm_fail(a, ADM_REFUSED, "internal", "out of memory");
		goto out;
	}
	if (message != NULL)
		json_object_set_new(doc, "message", json_string(message));
	if (warnings != NULL && json_array_size(warnings) > 0)
		json_object_set(doc, "warnings", warnings);
	adm_print(a, doc, human_org);
out:
	json_decref(doc);
	json_decref(o);
	json_decref(s);
	json_decref(m);
	return r;
}

/* Commands ----------------------------------------------------------------- */

static int org_create(struct adm *a, const struct adm_cmd *cmd, int argc,
		      char **argv)
{
	struct org_in in = {.allowed = FIELDS};
	char *pos[ADM_MAX_POS], msg[160];
	json_t *fields = NULL, *warnings = NULL, *sources = NULL, *res = NULL;
	int npos, r;

	if ((r = adm_parse(a, cmd, argc, argv, org_opts, on_org_opt, &in, pos,
			   0, 0, &npos)) != 0)
		return r;
	if ((r = sources_json(a, &in, &sources)) != 0 ||
	    (r = build_fields(a, &in, 1, NULL, sources, &fields, &warnings)) !=
		0 ||
	    (r = adm_connect(a)) != 0)
		goto out;
	if ((r = adm_call(a,
			  kt_account_org_create(kt_cli_redis(a->cli), fields,
						sources, a->actor, kt_cli_done,
						a->cli),
			  &res, "create")) != 0)
		goto out;
	snprintf(msg, sizeof(msg), "created organisation %s",
		 adm_str(res, "id"));
	r = show(a, adm_str(res, "id"), res, msg, warnings);
out:
	json_decref(fields);
	json_decref(warnings);
	json_decref(sources);
	json_decref(res);
	return r;
}

static int org_show(struct adm *a, const struct adm_cmd *cmd, int argc,
		    char **argv)
{
	struct org_in in = {0};
	char *pos[ADM_MAX_POS];
	int npos, r;

	if ((r = adm_parse(a, cmd, argc, argv, org_opts, on_org_opt, &in, pos,
			   1, 1, &npos)) != 0 ||
	    (r = adm_check_id(a, "organisation id", pos[0])) != 0 ||
	    (r = adm_connect(a)) != 0)
		return r;
	return show(a, pos[0], NULL, NULL, NULL);
}

static int org_find(struct adm *a, const struct adm_cmd *cmd, int argc,
		    char **argv)
{
	struct org_in in = {.allowed = ALLOW(O_VAT) | ALLOW(O_TAXNO) |
				       ALLOW(O_TAXNO_LAND) | ALLOW(O_REGISTER) |
				       ALLOW(O_WID) | ALLOW(O_SOURCE)};
	char *pos[ADM_MAX_POS], value[256];
	const char *kind;
	struct kt_error err;
	json_t *res = NULL, *sources = NULL;
	int npos, r;

	if ((r = adm_parse(a, cmd, argc, argv, org_opts, on_org_opt, &in, pos,
			   0, 0, &npos)) != 0)
		return r;
	if (in.n_find != 1)
		return adm_usage(a, "give exactly one of --vat, --register, "
				    "--taxno, --wid, --source");
	if (in.taxno_land != NULL && in.taxno == NULL)
		return adm_usage(a, "--taxno-land only goes with --taxno");
	if (in.vat != NULL) {
		char out[12];
		kind = "vat";
		if ((r = adm_check_text(a, "--vat", in.vat, IDENT_MAX_BYTES,
					0)) != 0)
			return r;
		if (kt_ident_vat_normalize(in.vat, out, &err) != KT_OK)
			return adm_invalid(a,
					   "--vat: '%s' is not a valid VAT id "
					   "(%s); invalid identifiers are "
					   "never indexed",
					   in.vat, err.msg);
		snprintf(value, sizeof(value), "%s", out);
	} else if (in.wid != NULL) {
		char out[18];
		kind = "wid";
		if ((r = adm_check_text(a, "--wid", in.wid, IDENT_MAX_BYTES,
					0)) != 0)
			return r;
		if (kt_ident_widnr_normalize(in.wid, out, &err) != KT_OK)
			return adm_invalid(a,
					   "--wid: '%s' is not a valid W-IdNr "
					   "(%s); invalid identifiers are "
					   "never indexed",
					   in.wid, err.msg);
		snprintf(value, sizeof(value), "%s", out);
	} else if (in.taxno != NULL) {
		char out[14];
		enum kt_land lands[MAX_SOURCES + 2];
		size_t n;
		kind = "taxno";
		if ((r = adm_check_text(a, "--taxno", in.taxno, IDENT_MAX_BYTES,
					0)) != 0 ||
		    (r = taxno_lands(a, &in, NULL, NULL, lands, &n)) != 0)
			return r;
		if (kt_ident_taxno_resolve(in.taxno, lands, n, out, NULL,
					   &err) != KT_OK)
			return adm_invalid(a,
					   "--taxno: '%s' is not a valid tax "
					   "number (%s)",
					   in.taxno, err.msg);
		snprintf(value, sizeof(value), "%s", out);
	} else if (in.reg != NULL) {
		struct kt_ident_register reg;
		kind = "hr";
		if ((r = adm_check_text(a, "--register", in.reg,
					IDENT_MAX_BYTES, 0)) != 0)
			return r;
		if (kt_ident_register_parse(in.reg, &reg, &err) != KT_OK)
			return adm_invalid(a, "--register: '%s': %s", in.reg,
					   err.msg);
		if (kt_ident_register_key(&reg, value, sizeof(value)) !=
			KT_OK ||
		    value[0] == '\0')
			return adm_invalid(a,
					   "--register: '%s' names no known "
					   "register court; a register number "
					   "identifies nothing without its "
					   "court",
					   in.reg);
	} else {
		kind = "source";
		if ((r = source_norm(a, in.sources[0], value)) != 0)
			return r;
	}
	if ((r = adm_connect(a)) != 0)
		return r;
	r = adm_call(a,
		     kt_account_org_find(kt_cli_redis(a->cli), kind, value,
					 kt_cli_done, a->cli),
		     &res, "find");
	if (r == 0)
		r = show(a, adm_str(res, "id"), res, NULL, NULL);
	json_decref(res);
	json_decref(sources);
	return r;
}

static int org_status(struct adm *a, const struct adm_cmd *cmd, int argc,
		      char **argv, const char *status)
{
	struct org_in in = {0};
	char *pos[ADM_MAX_POS], msg[200];
	json_t *res = NULL;
	int npos, r;

	if ((r = adm_parse(a, cmd, argc, argv, org_opts, on_org_opt, &in, pos,
			   1, 1, &npos)) != 0 ||
	    (r = adm_check_id(a, "organisation id", pos[0])) != 0 ||
	    (r = adm_connect(a)) != 0)
		return r;
	if ((r = adm_call(a,
			  kt_account_org_set_status(kt_cli_redis(a->cli),
						    pos[0], status, a->actor,
						    kt_cli_done, a->cli),
			  &res, status)) != 0)
		return r;
	if (*adm_str(res, "unchanged"))
		snprintf(msg, sizeof(msg), "organisation %s is already %s",
			 pos[0], status);
	else
		snprintf(msg, sizeof(msg), "organisation %s is now %s", pos[0],
			 status);
	json_object_del(res, "unchanged");
	r = show(a, pos[0], res, msg, NULL);
	json_decref(res);
	return r;
}

static int org_suspend(struct adm *a, const struct adm_cmd *cmd, int argc,
		       char **argv)
{
	return org_status(a, cmd, argc, argv, "suspended");
}

static int org_activate(struct adm *a, const struct adm_cmd *cmd, int argc,
			char **argv)
{
	return org_status(a, cmd, argc, argv, "active");
}

static int org_update(struct adm *a, const struct adm_cmd *cmd, int argc,
		      char **argv)
{
	struct org_in in = {.allowed = FIELDS | ALLOW(O_EXPECT)};
	char *pos[ADM_MAX_POS], msg[200];
	json_t *fields = NULL, *warnings = NULL, *sources = NULL,
	       *current = NULL, *cur_src = NULL, *res = NULL, *all = NULL;
	uint64_t version;
	size_t i;
	json_t *v;
	int npos, r;

	if ((r = adm_parse(a, cmd, argc, argv, org_opts, on_org_opt, &in, pos,
			   1, 1, &npos)) != 0 ||
	    (r = adm_check_id(a, "organisation id", pos[0])) != 0)
		return r;
	if (in.expect == NULL)
		return adm_usage(a, "--expect-version N is required (the "
				    "version shown by 'org show')");
	if (kt_parse_uint(in.expect, INT64_MAX, &version) != KT_OK ||
	    version == 0)
		return adm_invalid(a,
				   "--expect-version: '%s' is not a version "
				   "number (1, 2, ...)",
				   in.expect);
	if ((r = sources_json(a, &in, &sources)) != 0)
		goto out;
	if ((r = adm_connect(a)) != 0)
		goto out;
	/* The stored record and sources: the Länder for a tax number. */
	if ((r = adm_call(a,
			  kt_account_org_get(kt_cli_redis(a->cli), pos[0],
					     kt_cli_done, a->cli),
			  &current, "organisation")) != 0)
		goto out;
	if (*adm_str(current, "resolved_from")) {
		r = adm_fail(a, ADM_REFUSED, "refused",
			     "organisation %s is merged into %s; update %s "
			     "instead",
			     pos[0], adm_str(current, "id"),
			     adm_str(current, "id"));
		goto out;
	}
	if ((r = adm_call(a,
			  kt_account_org_sources(kt_cli_redis(a->cli), pos[0],
						 kt_cli_done, a->cli),
			  &cur_src, "sources")) != 0)
		goto out;
	all = json_deep_copy(sources);
	json_array_extend(all, json_object_get(cur_src, "sources"));
	if ((r = build_fields(a, &in, 0, current, all, &fields, &warnings)) !=
	    0)
		goto out;
	if (json_object_size(fields) == 0 && json_array_size(sources) == 0) {
		r = adm_usage(a, "nothing to change: give at least one field "
				 "option");
		goto out;
	}
	if ((r = adm_call(a,
			  kt_account_org_update(kt_cli_redis(a->cli), pos[0],
						(int64_t)version, fields,
						a->actor, kt_cli_done, a->cli),
			  &res, "update")) != 0)
		goto out;
	json_array_foreach(sources, i, v)
	{
		if ((r = adm_call(
			 a,
			 kt_account_source_add(kt_cli_redis(a->cli), pos[0],
					       json_string_value(v), a->actor,
					       kt_cli_done, a->cli),
			 NULL, "source")) != 0)
			goto out;
	}
	if (*adm_str(res, "unchanged"))
		snprintf(msg, sizeof(msg),
			 "organisation %s unchanged (version %s)", pos[0],
			 adm_str(res, "version"));
	else
		snprintf(msg, sizeof(msg),
			 "updated organisation %s to version %s", pos[0],
			 adm_str(res, "version"));
	json_object_del(res, "unchanged");
	r = show(a, pos[0], res, msg, warnings);
out:
	json_decref(fields);
	json_decref(warnings);
	json_decref(sources);
	json_decref(current);
	json_decref(cur_src);
	json_decref(all);
	json_decref(res);
	return r;
}

static int org_merge(struct adm *a, const struct adm_cmd *cmd, int argc,
		     char **argv)
{
	struct org_in in = {0};
	char *pos[ADM_MAX_POS], msg[300];
	json_t *res = NULL;
	int npos, r;

	if ((r = adm_parse(a, cmd, argc, argv, org_opts, on_org_opt, &in, pos,
			   2, 2, &npos)) != 0 ||
	    (r = adm_check_id(a, "LOSER", pos[0])) != 0 ||
	    (r = adm_check_id(a, "SURVIVOR", pos[1])) != 0)
		return r;
	if (strcmp(pos[0], pos[1]) == 0)
		return adm_invalid(a, "cannot merge an organisation into "
				      "itself");
	if ((r = adm_connect(a)) != 0)
		return r;
	if ((r = adm_call(a,
			  kt_account_org_merge(kt_cli_redis(a->cli), pos[0],
					       pos[1], a->actor, kt_cli_done,
					       a->cli),
			  &res, "merge")) != 0)
		return r;
	snprintf(msg, sizeof(msg),
		 "merged organisation %s into %s: its members, sources and "
		 "identifiers now belong to %s",
		 pos[0], pos[1], pos[1]);
	r = show(a, pos[1], res, msg, NULL);
	json_decref(res);
	return r;
}

const struct adm_cmd adm_org_cmds[] = {
    {"org", "create",
     "org create --legal-name NAME [--legal-form FORM] [--vat VAT]\n"
     "        [--taxno TAXNO [--taxno-land LAND]] [--register ENTRY] "
     "[--wid WIDNR]\n"
     "        [--street S --house-number H --postcode P --city C]\n"
     "        [--source LAND:ID ...]",
     "create an organisation (a unified company account)",
     "DESCRIPTION\n"
     "    Creates an organisation with a new opaque id, status active and\n"
     "    version 1, and claims its valid identifiers and source links in\n"
     "    their indexes, in one atomic step that is recorded in the audit\n"
     "    stream (org.create).\n"
     "\n"
     "    Identifiers are normalised and checked: the USt-IdNr by its\n"
     "    check digit (ISO 7064 MOD 11,10), the Steuernummer by converting\n"
     "    it to the 13-digit federal form, the register entry by finding\n"
     "    register type, number and a known register court, the W-IdNr by\n"
     "    its format. An identifier that fails is stored anyway, flagged\n"
     "    invalid, never indexed, and reported as a warning. A valid\n"
     "    identifier or source link that already belongs to another\n"
     "    organisation is a conflict (exit 1) and nothing is written.\n"
     "\n"
     "OPTIONS\n"
     "    --legal-name NAME      the registered name (required; at most\n"
     "                           300 bytes of UTF-8)\n"
     "    --legal-form FORM      legal form as written (GmbH, UG\n"
     "                           (haftungsbeschränkt), AG, KG, OHG,\n"
     "                           GmbH & Co. KG, e.K., eG, e.V., ...) or a\n"
     "                           code (GMBH_CO_KG); stored as the code\n"
     "    --vat VAT              USt-IdNr, e.g. 'DE 123 456 788'\n"
     "    --taxno TAXNO          Steuernummer: the 13-digit federal form,\n"
     "                           or a Land's notation (143/215/30457),\n"
     "                           read in the Land of --taxno-land, of the\n"
     "                           postcode or of the sources\n"
     "    --taxno-land LAND      the Land whose notation --taxno uses\n"
     "                           (BW BY BE BB HB HH HE MV NI NW RP SL SN\n"
     "                           ST SH TH)\n"
     "    --register ENTRY       Handelsregister entry as written, e.g.\n"
     "                           'HRB 1234, Amtsgericht Kiel'\n"
     "    --wid WIDNR            Wirtschafts-Identifikationsnummer,\n"
     "                           DE123456788-00001\n"
     "    --street S, --house-number H, --postcode P, --city C\n"
     "                           the postal address (street, postcode and\n"
     "                           city together; the postcode has 5\n"
     "                           digits; country DE)\n"
     "    --source LAND:ID       where the account came from: a Land's\n"
     "                           portal and its legacy account id\n"
     "                           (repeatable), e.g. BY:4711\n"
     "\n"
     "OUTPUT\n"
     "    The organisation as 'org show' prints it; with --json\n"
     "    {\"org\", \"sources\", \"members\", \"message\", \"warnings\"}.\n"
     "\n"
     "EXAMPLES\n"
     "    kontor-admin org create --legal-name 'Muster GmbH' \\\n"
     "        --legal-form GmbH --vat DE123456788 \\\n"
     "        --taxno 143/215/30457 --taxno-land BY \\\n"
     "        --register 'HRB 1234, Amtsgericht Kiel' \\\n"
     "        --street Holstenstraße --house-number 1 --postcode 24103 \\\n"
     "        --city Kiel --source SH:0815\n",
     org_create},
    {"org", "show", "org show ID", "show an organisation",
     "DESCRIPTION\n"
     "    Prints the organisation with its identifiers (each marked valid\n"
     "    or invalid), address, status, version, source links and\n"
     "    members. The id of a merged organisation resolves to the\n"
     "    organisation it was merged into, which is shown (with --json,\n"
     "    \"resolved_from\" names the id asked for).\n"
     "\n"
     "OUTPUT\n"
     "    With --json: {\"org\": {fields}, \"sources\": [\"LAND:ID\"],\n"
     "    \"members\": [{\"person\", \"email\", \"name\", \"role\",\n"
     "    \"granted_by\", \"granted_at\"}]}. Times are Unix seconds in\n"
     "    JSON and ISO 8601 (UTC) in text.\n"
     "\n"
     "EXAMPLES\n"
     "    kontor-admin org show 8fJ2kq0cXbqvYl1m3nA2Tw\n",
     org_show},
    {"org", "find",
     "org find --vat VAT | --register ENTRY | --taxno TAXNO [--taxno-land "
     "LAND]\n"
     "        | --wid WIDNR | --source LAND:ID",
     "find an organisation by an identifier",
     "DESCRIPTION\n"
     "    Looks an organisation up by exactly one identifier, normalised\n"
     "    as 'org create' does, and prints it like 'org show'. Only valid\n"
     "    identifiers are indexed, so an invalid one is refused with the\n"
     "    reason (exit 2); a register entry must name a known register\n"
     "    court (a bare 'HRB 1234' identifies nothing). Identifiers of\n"
     "    merged organisations lead to the organisation they were merged\n"
     "    into.\n"
     "\n"
     "OPTIONS\n"
     "    --vat VAT, --register ENTRY, --taxno TAXNO [--taxno-land LAND],\n"
     "    --wid WIDNR, --source LAND:ID      as for 'org create'\n"
     "\n"
     "EXAMPLES\n"
     "    kontor-admin org find --vat 'DE 123 456 788'\n"
     "    kontor-admin org find --register 'Amtsgericht Kiel HRB 1234'\n"
     "    kontor-admin org find --source BY:4711\n",
     org_find},
    {"org", "suspend", "org suspend ID", "suspend an organisation",
     "DESCRIPTION\n"
     "    Sets the status to suspended (audited as org.suspend): nobody\n"
     "    can act for the organisation at a portal until it is activated\n"
     "    again; its data, members and identifiers stay. Suspending a\n"
     "    suspended organisation changes nothing and succeeds.\n"
     "\n"
     "EXAMPLES\n"
     "    kontor-admin --actor 'admin:jana' org suspend "
     "8fJ2kq0cXbqvYl1m3nA2Tw\n",
     org_suspend},
    {"org", "activate", "org activate ID", "activate a suspended organisation",
     "DESCRIPTION\n"
     "    Sets the status back to active (audited as org.activate).\n"
     "    Activating an active organisation changes nothing and succeeds.\n"
     "    A merged organisation can be neither suspended nor activated.\n"
     "\n"
     "EXAMPLES\n"
     "    kontor-admin org activate 8fJ2kq0cXbqvYl1m3nA2Tw\n",
     org_activate},
    {"org", "update",
     "org update ID --expect-version N [--legal-name NAME] "
     "[--legal-form FORM]\n"
     "        [--vat VAT] [--taxno TAXNO [--taxno-land LAND]] "
     "[--register ENTRY]\n"
     "        [--wid WIDNR] [--street S] [--house-number H] [--postcode P]\n"
     "        [--city C] [--source LAND:ID ...]",
     "change an organisation (optimistic concurrency)",
     "DESCRIPTION\n"
     "    Changes the given fields if the organisation is still at\n"
     "    version N (shown by 'org show'); otherwise nothing changes and\n"
     "    the command fails with a conflict (exit 1): somebody else\n"
     "    changed it meanwhile, show it again and decide. No update is\n"
     "    ever lost. Identifier indexes follow the change atomically; an\n"
     "    empty value (--vat '') removes a field; identifiers are checked\n"
     "    as in 'org create'. --source adds source links (each its own\n"
     "    atomic step after the update). An update that changes nothing\n"
     "    writes nothing and keeps the version. Audited as org.update.\n"
     "    Merged organisations cannot be changed.\n"
     "\n"
     "OPTIONS\n"
     "    --expect-version N     the version the change is based on\n"
     "                           (required)\n"
     "    other options          as for 'org create'\n"
     "\n"
     "EXAMPLES\n"
     "    kontor-admin org update 8fJ2kq0cXbqvYl1m3nA2Tw --expect-version 3 "
     "\\\n"
     "        --legal-name 'Muster Holding GmbH' --vat ''\n",
     org_update},
    {"org", "merge", "org merge LOSER SURVIVOR",
     "merge a duplicate organisation into another",
     "DESCRIPTION\n"
     "    Marks LOSER as merged into SURVIVOR in one atomic step (audited\n"
     "    as org.merge): LOSER's memberships move to SURVIVOR (a person\n"
     "    in both keeps the stronger role: admin > member >\n"
     "    representative), its source links and identifier indexes point\n"
     "    to SURVIVOR, and every lookup of LOSER resolves to SURVIVOR from\n"
     "    then on. LOSER becomes read-only. Neither may already be merged.\n"
     "\n"
     "OUTPUT\n"
     "    The survivor, as 'org show' prints it.\n"
     "\n"
     "EXAMPLES\n"
     "    kontor-admin org merge 0bDupl1cateN8mQ2xR4tKw "
     "8fJ2kq0cXbqvYl1m3nA2Tw\n",
     org_merge},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
