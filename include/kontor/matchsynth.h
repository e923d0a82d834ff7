#ifndef KONTOR_MATCHSYNTH_H
#define KONTOR_MATCHSYNTH_H

/*
 * A small, seeded generator of synthetic company records with known
 * duplicates, for the matcher's tests and benchmark (the realistic
 * multi-state export generator is a separate tool). It fills the fields of
 * the company profile that the profile has (name_key, legal_form, vat,
 * taxno, register, postcode, city, street, house_number, email), already
 * normalised, with validity flags, and varies duplicates the way exports
 * do: typos, umlaut spellings, missing or mistyped identifiers, moved
 * addresses, other contact emails. Hard negatives come with it: companies
 * sharing a common name in other towns, and "Verwaltungs-GmbH" siblings of
 * a GmbH & Co. KG at the same address.
 */

#include <stddef.h>
#include <stdint.h>

#include "kontor/err.h"
#include "kontor/match.h"

struct kt_matchsynth_params {
	size_t records;	     /* how many records (about; at least) */
	double dup_rate;     /* share of entities with extra records */
	unsigned max_dups;   /* extra records per such entity: 1..max_dups */
	double sibling_rate; /* share of GmbH & Co. KG with a sibling */
	double noise;	     /* scales every variation probability */
	uint64_t seed;
};

void kt_matchsynth_defaults(struct kt_matchsynth_params *params);

/*
 * Generate a table for profile p and the true entity of every record
 * (caller frees *truth with free(), *table with kt_match_table_free).
 */
int kt_matchsynth_generate(const struct kt_match_profile *p,
			   const struct kt_matchsynth_params *params,
			   struct kt_match_table **table, uint32_t **truth,
			   struct kt_error *err);

/* The USt-IdNr check digit (ISO 7064 MOD 11,10) of 8 digits. */
int kt_matchsynth_vat_check(const char digits[8]);

#endif
