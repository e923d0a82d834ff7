#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kontor/linkage.h"
#include "kontor/mapping.h"
#include "kontor/match.h"
#include "kontor/record.h"

struct kt_linkage {
	struct kt_match_profile *profile;
	struct kt_match_model model;
};

/* The columns a record is built from, in this order. */
enum col {
	C_ID,
	C_NAME,
	C_LEGAL_FORM,
	C_VAT,
	C_TAXNO,
	C_WID,
	C_REG,
	C_REG_COURT,
	C_REG_TYPE,
	C_REG_NUMBER,
	C_STREET,
	C_HOUSE,
	C_POSTCODE,
	C_CITY,
	C_EMAIL,
	C_COUNT
};

static const char *const col_fields[C_COUNT] = {
    "account_id",      "name",		 "legal_form",
    "vat_id",	       "tax_number",	 "w_idnr",
    "register",	       "register_court", "register_type",
    "register_number", "street",	 "house_number",
    "postcode",	       "city",		 "email"};

void kt_linkage_free(struct kt_linkage *l)
{
	if (l == NULL)
		return;
	kt_match_profile_free(l->profile);
	free(l);
}

int kt_linkage_load(const char *profile_path, const char *model_path,
		    struct kt_linkage **out, struct kt_error *err)
{
	struct kt_linkage *l = calloc(1, sizeof(*l));
	int rc;

	*out = NULL;
	if (l == NULL)
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	if ((rc = kt_match_profile_load_file(profile_path, &l->profile, err)) !=
	    KT_OK) {
		free(l);
		return rc;
	}
	kt_match_model_init(l->profile, &l->model);
	if (model_path != NULL && *model_path != '\0' &&
	    (rc = kt_match_model_load_file(l->profile, model_path, &l->model,
					   err)) != KT_OK) {
		kt_linkage_free(l);
		return rc;
	}
	*out = l;
	return KT_OK;
}

/*
 * A mapping whose columns are the ones above, for one Land: the register
 * as free text (split = 0) or as court/type/number (split = 1), which a
 * mapping cannot have both of; the unused ones are ignored.
 */
static int mapping_for(const char *land, int split, struct kt_mapping **out,
		       struct kt_error *err)
{
	json_t *m =
	    json_pack("{s:s,s:s,s:s,s:b,s:[]}", "source", "federation", "land",
		      land, "format", "csv", "header", 0, "columns");
	char *text;
	int rc;

	if (m == NULL)
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	for (int c = 0; c < C_COUNT; c++) {
		int skip = split ? c == C_REG
				 : (c == C_REG_COURT || c == C_REG_TYPE ||
				    c == C_REG_NUMBER);
		json_array_append_new(
		    json_object_get(m, "columns"),
		    json_pack("{s:i,s:s}", "index", c, "field",
			      skip ? "ignore" : col_fields[c]));
	}
	text = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	if (text == NULL)
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	rc = kt_mapping_load_string(text, out, err);
	free(text);
	return rc;
}

static const char *sget(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : "";
}

/* Build a record from one set of column values and add its match row. */
static int add_row(struct kt_match_table *t, const struct kt_mapping *map,
		   struct kt_rec *rec, const char *id, const char **vals,
		   struct kt_error *err)
{
	struct kt_rec_reject rej;
	const char *row[KT_REC_MATCH_NCOLS];
	int rc;

	kt_rec_reset(rec);
	vals[C_ID] = id;
	if (*vals[C_NAME] == '\0')
		vals[C_NAME] = "-";
	rc = kt_rec_build(rec, map, vals, "federation", 1, &rej);
	if (rc != KT_OK)
		return kt_error_set(err, KT_ERR_INVALID, "record %s: %s", id,
				    rej.reason);
	if ((rc = kt_rec_match_row(rec, row)) != KT_OK)
		return kt_error_set(err, rc, "record %s: no match row", id);
	return kt_match_table_add(t, id, row, NULL, err);
}

int kt_linkage_score(const struct kt_linkage *l, const char *land,
		     json_t *incoming, json_t *candidates, json_t **out,
		     struct kt_error *err)
{
	struct kt_mapping *map = NULL, *map_split = NULL;
	struct kt_match_table *t = NULL;
	struct kt_match *m = NULL;
	struct kt_rec *rec = NULL;
	json_t *res = NULL, *o;
	const char *vals[C_COUNT];
	double merge = kt_match_profile_auto_merge(l->profile);
	double review = kt_match_profile_review(l->profile);
	size_t i;
	int rc;

	*out = NULL;
	if ((rc = mapping_for(land, 0, &map, err)) != KT_OK ||
	    (rc = mapping_for(land, 1, &map_split, err)) != KT_OK)
		goto out;
	if ((rec = kt_rec_new()) == NULL ||
	    (rc = kt_match_table_new(l->profile, &t)) != KT_OK ||
	    (res = json_array()) == NULL) {
		rc = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (int c = 0; c < C_COUNT; c++)
		vals[c] = "";
	vals[C_NAME] = sget(incoming, "legal_name");
	vals[C_LEGAL_FORM] = sget(incoming, "legal_form");
	vals[C_VAT] = sget(incoming, "vat");
	vals[C_TAXNO] = sget(incoming, "taxno");
	vals[C_WID] = sget(incoming, "wid");
	vals[C_REG] = sget(incoming, "register");
	vals[C_STREET] = sget(incoming, "street");
	vals[C_HOUSE] = sget(incoming, "house_number");
	vals[C_POSTCODE] = sget(incoming, "postcode");
	vals[C_CITY] = sget(incoming, "city");
	vals[C_EMAIL] = sget(incoming, "email");
	if ((rc = add_row(t, map, rec, "incoming", vals, err)) != KT_OK)
		goto out;
	json_array_foreach(candidates, i, o)
	{
		for (int c = 0; c < C_COUNT; c++)
			vals[c] = "";
		vals[C_NAME] = sget(o, "legal_name");
		vals[C_LEGAL_FORM] = sget(o, "legal_form");
		if (strcmp(sget(o, "vat_valid"), "1") == 0)
			vals[C_VAT] = sget(o, "vat");
		if (strcmp(sget(o, "wid_valid"), "1") == 0)
			vals[C_WID] = sget(o, "wid");
		if (strcmp(sget(o, "hr_valid"), "1") == 0) {
			vals[C_REG_COURT] = *sget(o, "hr_court_name")
						? sget(o, "hr_court_name")
						: sget(o, "hr_court");
			vals[C_REG_TYPE] = sget(o, "hr_type");
			vals[C_REG_NUMBER] = sget(o, "hr_number");
		}
		vals[C_STREET] = sget(o, "street");
		vals[C_HOUSE] = sget(o, "house_number");
		vals[C_POSTCODE] = sget(o, "postcode");
		vals[C_CITY] = sget(o, "city");
		if ((rc = add_row(t, map_split, rec, sget(o, "id"), vals,
				  err)) != KT_OK)
			goto out;
	}
	if ((rc = kt_match_new(l->profile, t, 1, &m, err)) != KT_OK ||
	    (rc = kt_match_set_model(m, &l->model, err)) != KT_OK)
		goto out;
	for (uint32_t k = 1; k < (uint32_t)kt_match_table_size(t); k++) {
		struct kt_match_explanation ex;
		const char *decision;
		json_t *e;
		size_t pos;

		if ((rc = kt_match_explain(m, 0, k, &ex, err)) != KT_OK)
			goto out;
		/*
		 * Online linking is stricter than the bulk merge: a merge
		 * needs an identifier that agrees (names and addresses alone
		 * make at most a review case), and a strong identifier that
		 * disagrees rules the pair out.
		 */
		int agree = 0, strong_agree = 0;
		int conflict = ex.conflict_field >= 0;
		for (unsigned f = 0; f < kt_match_profile_nfields(l->profile);
		     f++) {
			const char *lv = kt_match_profile_level_name(
			    l->profile, f, ex.fields[f].level);
			if (lv != NULL && strcmp(lv, "agree") == 0) {
				agree = 1;
				strong_agree |= kt_match_profile_field_strong(
				    l->profile, f);
			}
			if (lv != NULL && strcmp(lv, "disagree") == 0 &&
			    kt_match_profile_field_strong(l->profile, f))
				conflict = 1;
		}
		/* ... and one that agrees while everything else disagrees
		 * (a renamed company, a typing error) is for a person to
		 * decide, never silently a stranger. */
		decision = conflict		? "none"
			   : ex.weight >= merge ? (agree ? "merge" : "review")
			   : ex.weight >= review || strong_agree ? "review"
								 : "none";
		e = json_pack("{s:s,s:f,s:s}", "id", kt_match_table_id(t, k),
			      "weight", isfinite(ex.weight) ? ex.weight : -99.0,
			      "decision", decision);
		/* keep the array sorted, strongest first */
		for (pos = 0; pos < json_array_size(res); pos++)
			if (json_real_value(json_object_get(
				json_array_get(res, pos), "weight")) <
			    json_real_value(json_object_get(e, "weight")))
				break;
		json_array_insert_new(res, pos, e);
	}
	*out = res;
	res = NULL;
	rc = KT_OK;
out:
	json_decref(res);
	kt_match_free(m);
	kt_match_table_free(t);
	kt_rec_free(rec);
	kt_mapping_free(map);
	kt_mapping_free(map_split);
	return rc;
}
