#ifndef KONTOR_MERGE_H
#define KONTOR_MERGE_H

/*
 * Golden records: what the migration writes for each cluster of records
 * the matcher found (docs/migration.md, "Merge").
 *
 *   organisation  one per cluster; each field (group of fields) comes from
 *                 the record that wins by the survivorship rules: a valid
 *                 identifier beats an invalid one, then the rules' order of
 *                 "confirmed_at" (the most recently confirmed record) and
 *                 "source_priority" (a number per Land, higher wins), then
 *                 the record id; every record of the cluster becomes a
 *                 source link "LAND:account-id".
 *   people        the records' contacts, merged across clusters and Länder
 *                 by *verified* e-mail address only: an unverified address
 *                 proves nothing and never joins two accounts (the contact
 *                 is then left out and reported). Each person keeps the
 *                 legacy password hash of every source it came from.
 *   memberships   one per person and organisation, the strongest role of
 *                 the person's records in the cluster (admin > member >
 *                 representative); export role names are mapped by the
 *                 rules.
 *
 * The result is a list of units, one per cluster, each a JSON object that
 * kontor/migjob.h writes atomically (format in docs/migration.md).
 */

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "kontor/err.h"
#include "kontor/record.h"

#define KT_MERGE_RULES_MAX (256 * 1024)
#define KT_MERGE_MAX_CLUSTER 1000     /* records in one cluster */
#define KT_MERGE_MAX_LEGACY_HASHES 64 /* per person, upper bound */

/* ---- rules --------------------------------------------------------- */

struct kt_merge_rules;

/*
 * Load survivorship rules (JSON, docs/migration.md). Errors name the JSON
 * path: "rules: .source_priority.XX: unknown Land code". Caller frees with
 * kt_merge_rules_free.
 */
int kt_merge_rules_load_file(const char *path, struct kt_merge_rules **out,
			     struct kt_error *err);
int kt_merge_rules_load_string(const char *json, struct kt_merge_rules **out,
			       struct kt_error *err);
/* The shipped default (docs/rules/survivorship.json has the same text). */
const char *kt_merge_rules_default_json(void);
void kt_merge_rules_free(struct kt_merge_rules *r);

/* The role an export's role text maps to ("admin", "member",
 * "representative"); *known is 0 when the rules' unknown_role was used. */
const char *kt_merge_rules_role(const struct kt_merge_rules *r,
				const char *text, int *known);

/* ---- merge --------------------------------------------------------- */

struct kt_merge;

/* Rules are borrowed (must outlive the merge). */
int kt_merge_new(const struct kt_merge_rules *rules, struct kt_merge **out);
void kt_merge_free(struct kt_merge *m);

/*
 * Add a record of cluster (its label in clusters.csv). The record is copied.
 * Errors: too many records in one cluster (KT_ERR_LIMIT), a repeated record
 * id (KT_ERR_CONFLICT), an account id that cannot be a source link
 * (KT_ERR_INVALID), KT_ERR_NOMEM.
 */
int kt_merge_add(struct kt_merge *m, struct kt_rec *rec, const char *cluster,
		 struct kt_error *err);

/* Build the units: golden records, people, memberships. Once, after the
 * last kt_merge_add. */
int kt_merge_finish(struct kt_merge *m, struct kt_error *err);

/* Units in the order of their clusters' first record. */
size_t kt_merge_nunits(const struct kt_merge *m);
/* Unit i as JSON (new reference; NULL on allocation failure). */
json_t *kt_merge_unit_json(const struct kt_merge *m, size_t i);

/* A contact that does not become a person or membership, and why. */
struct kt_merge_skipped {
	const char *source; /* "BY:100234" */
	const char *email;
	const char *reason;
	int covered; /* the same person is a member of that organisation
			anyway (by a verified record) */
};
size_t kt_merge_nskipped(const struct kt_merge *m);
const struct kt_merge_skipped *kt_merge_skipped_at(const struct kt_merge *m,
						   size_t i);

struct kt_merge_summary {
	uint64_t records, clusters, multi_clusters, records_merged;
	uint64_t orgs, people, people_multi_source, people_unverified;
	uint64_t memberships, legacy_hashes, unknown_roles;
	uint64_t contacts_without_email, contacts_skipped;
	uint64_t
	    identifier_conflicts; /* valid values dropped by survivorship */
};
void kt_merge_summary_get(const struct kt_merge *m, struct kt_merge_summary *s);
json_t *kt_merge_summary_json(const struct kt_merge_summary *s);

/* The skipped contacts as CSV: source,email,reason,covered. */
int kt_merge_write_skipped(const struct kt_merge *m, FILE *out);

#endif
