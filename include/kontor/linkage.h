#ifndef KONTOR_LINKAGE_H
#define KONTOR_LINKAGE_H

/*
 * Record linkage for one incoming company record against a few candidate
 * organisations: what the gateway does when a login from a state's legacy
 * provider is not linked yet. It runs the same normalisation (kt_rec), the
 * same profile and the same Fellegi-Sunter model as kontor-migrate, so an
 * identity is judged the same way online and in bulk.
 *
 * Not for event loops: run kt_linkage_score on a worker thread.
 */

#include <jansson.h>

#include "kontor/err.h"

struct kt_linkage;

/*
 * profile_path: the matcher profile (docs/profiles/company.json).
 * model_path: a model saved by `kontor-migrate match --model-out`, or NULL
 * / "" for a model from the profile's defaults (identifier agreement
 * dominates). Caller frees with kt_linkage_free. Read-only afterwards,
 * safe to share between threads.
 */
int kt_linkage_load(const char *profile_path, const char *model_path,
		    struct kt_linkage **out, struct kt_error *err);
void kt_linkage_free(struct kt_linkage *l);

/*
 * Score incoming (canonical fields as strings: legal_name, legal_form,
 * vat, taxno, register, wid, street, house_number, postcode, city, email)
 * against candidates (JSON array of organisation records of the account
 * model). land: the Land whose notation the incoming tax number uses.
 * *out: array of {"id", "weight", "decision": "merge"|"review"|"none"},
 * strongest first (new reference).
 */
int kt_linkage_score(const struct kt_linkage *l, const char *land,
		     json_t *incoming, json_t *candidates, json_t **out,
		     struct kt_error *err);

#endif
