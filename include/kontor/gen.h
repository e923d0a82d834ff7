#ifndef KONTOR_GEN_H
#define KONTOR_GEN_H

/*
 * Synthetic Länder exports for tests and benchmarks: kontor-migrate
 * generate. Reproducible (same seed and size: byte-identical output on any
 * machine - our own PRNG, no hash-order dependence), realistic enough to
 * exercise every rule of the importer and to measure the matcher:
 *
 *  - all sixteen Länder, each with its own layout: column names and order,
 *    delimiter, quoting, encoding (UTF-8 with or without BOM, Windows-1252,
 *    ISO-8859-1), CSV with or without header, or JSON Lines (flat or
 *    nested); composite columns (one-line address, free-text register
 *    entry, legal form in the name or its own column, postcode as a number);
 *  - companies appear once or several times within and across Länder with
 *    typical variation: typos, legal-form spellings, umlaut spellings
 *    (ä/ae/a), ALL CAPS, street abbreviations, moved addresses (new court,
 *    register and tax number), missing or mistyped identifiers (VAT ids
 *    with wrong check digits), other contact persons and e-mails,
 *    postcodes without their leading zero;
 *  - the classic false merges: a GmbH & Co. KG and its Verwaltungs-GmbH,
 *    sister companies of a group, at one address with one e-mail domain;
 *  - a few rows the importer must reject (missing id or name, duplicate
 *    id, wrong field count, an object where text belongs).
 *
 * Output in DIR: <land>.csv or <land>.jsonl and <land>.mapping.json per
 * Land (land in lower case), truth.csv ("record_id,entity_id" for every
 * row that will be imported; record_id = "BY:<account id>"), and
 * manifest.json (seed, counts per Land, expected rejects). Password hashes
 * are random strings in the shape of common hash formats, not hashes of
 * anything.
 */

#include <stdint.h>
#include <stdio.h>

#include "kontor/err.h"
#include "kontor/land.h"
#include "kontor/progress.h"

#define KT_GEN_MAX_RECORDS 10000000ull /* about 1 GB of memory */

struct kt_gen_opts {
	uint64_t seed;
	uint64_t records; /* rows in total over all Länder (>= 16) */
	const char *out_dir;
	enum kt_progress_mode progress;
	FILE *progress_out; /* default stderr */
};

struct kt_gen_summary {
	uint64_t rows, entities, expected_rejects;
	uint64_t rows_by_land[KT_LAND_COUNT + 1];
	uint64_t rejects_by_land[KT_LAND_COUNT + 1];
	double seconds;
};

/* 0, KT_ERR_INVALID (options), KT_ERR_IO (with the path), KT_ERR_NOMEM. */
int kt_gen_run(const struct kt_gen_opts *o, struct kt_gen_summary *sum,
	       struct kt_error *err);

#endif
