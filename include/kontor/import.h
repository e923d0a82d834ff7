#ifndef KONTOR_IMPORT_H
#define KONTOR_IMPORT_H

/*
 * kontor-migrate import: read the Länder's exports through their mapping
 * files, normalise every row into a canonical record (kt_rec) and write
 *   - records.jsonl: one record per accepted row (docs/migration.md);
 *   - rejects.csv:   file,line,account_id,field,reason for every row that
 *                    was not imported (nothing is dropped silently).
 * Both are written to temporary files next to their targets (mode 0600:
 * records hold legacy password hashes) and renamed only when every input
 * was read completely; a malformed file (unterminated quote, bad encoding,
 * missing column, limit) stops the run with "file:line: reason" and leaves
 * no output behind. Account ids must be unique per Land: a repeated id is
 * a reject pointing at the first occurrence.
 */

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "kontor/err.h"
#include "kontor/land.h"
#include "kontor/mapping.h"
#include "kontor/progress.h"

/* One mapping and the files exported with it. */
struct kt_import_source {
	const char *mapping_path;
	const char *const *files;
	size_t n_files;
};

struct kt_import_opts {
	const char *out_path;	  /* records.jsonl (required) */
	const char *rejects_path; /* rejects.csv (required) */
	const char *encoding;	  /* overrides every mapping's, or NULL */
	enum kt_progress_mode progress;
	FILE *progress_out; /* default stderr */
};

struct kt_import_summary {
	uint64_t files, rows, imported, rejected, issues, bytes;
	uint64_t rejected_by_field[KT_FIELD_COUNT];
	uint64_t issues_by_field[KT_FIELD_COUNT];
	uint64_t imported_by_land[KT_LAND_COUNT + 1];
	uint64_t rejected_by_land[KT_LAND_COUNT + 1];
	uint64_t vat_valid, vat_invalid, taxno_valid, taxno_invalid;
	uint64_t register_known, register_unknown_court, register_invalid;
	uint64_t postcode_restored, duplicate_ids, wrong_field_count;
	double seconds;
};

/*
 * Run the import. 0 and *sum filled, or a negative KT_ERR_* with the
 * reason in *err (and no output files).
 */
int kt_import_run(const struct kt_import_source *src, size_t n_src,
		  const struct kt_import_opts *o, struct kt_import_summary *sum,
		  struct kt_error *err);

/* Human-readable summary, several lines. */
void kt_import_summary_print(const struct kt_import_summary *s, FILE *out);

/* The summary as JSON (new reference; NULL on allocation failure). */
json_t *kt_import_summary_json(const struct kt_import_summary *s);

#endif
