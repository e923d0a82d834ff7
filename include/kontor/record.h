#ifndef KONTOR_RECORD_H
#define KONTOR_RECORD_H

/*
 * The canonical company-account record produced by the import: one per
 * accepted row of a Land's export, normalised, with every identifier kept
 * as raw text, normalised value and validity flag. Written as one JSON
 * object per line (records.jsonl, format in docs/migration.md) and turned
 * into a row of plain strings for the matcher (kt_rec_match_row), which
 * knows nothing about companies.
 *
 * A record owns its strings (an internal arena): every const char * below
 * is valid until kt_rec_reset()/kt_rec_free() and is never NULL ("" when
 * absent). Reuse one record for a whole file: kt_rec_build() resets it.
 */

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "kontor/err.h"
#include "kontor/land.h"
#include "kontor/mapping.h"
#include "kontor/norm.h"

#define KT_REC_MAX_EMAILS 8
#define KT_REC_MAX_ISSUES 16
#define KT_REC_ACCOUNT_ID_MAX 64

struct kt_rec_ident {
	const char *raw;  /* as exported */
	const char *norm; /* normalised; may be set even when invalid */
	int valid;	  /* 1 only if fully valid: usable as evidence */
};

struct kt_rec_register {
	const char *raw;      /* free text, or the split columns joined */
	const char *court;    /* canonical name, or as written if unknown */
	const char *court_id; /* "" when the court is unknown */
	int court_known;
	const char *type; /* "HRA", "HRB", "GnR", "PR", "VR", "GsR" */
	const char *number;
	const char *suffix;
	int valid; /* type and number parsed */
};

/* A problem with one field of a record that was kept. */
struct kt_rec_issue {
	enum kt_field field;
	const char *reason;
};

struct kt_rec_arena;

struct kt_rec {
	enum kt_land land;  /* exporting portal */
	const char *source; /* mapping's source label */
	const char *file;   /* input file */
	uint64_t line;	    /* line of the row in it */
	const char *account_id;
	const char *confirmed_at; /* "YYYY-MM-DD" or "" */
	struct {
		const char *raw, *display, *key;
	} name;
	enum kt_lf legal_form;
	unsigned name_state; /* KT_NORM_STATE_* */
	struct kt_rec_ident vat, taxno, widnr;
	enum kt_land taxno_land; /* Land whose notation was used */
	struct kt_rec_register reg;
	enum kt_land reg_land; /* Land of a known register court */
	struct {
		const char *street, *street_key, *house_number;
		const char *postcode, *city, *city_key;
		int postcode_restored; /* lost leading zero put back */
		int po_box;
	} addr;
	const char *emails[KT_REC_MAX_EMAILS]; /* valid, normalised, unique */
	size_t n_emails;
	struct {
		const char *name, *name_key, *email;
		int email_valid, email_verified;
		const char *password_hash; /* legacy hash string as exported */
		const char *role;
	} contact;
	struct kt_rec_issue issues[KT_REC_MAX_ISSUES];
	size_t n_issues;
	size_t n_issues_dropped; /* beyond KT_REC_MAX_ISSUES */

	struct kt_rec_arena *arena; /* private */
};

/* NULL on allocation failure. */
struct kt_rec *kt_rec_new(void);
void kt_rec_free(struct kt_rec *r);
/* Empty the record, keep its memory. */
void kt_rec_reset(struct kt_rec *r);

/* Why a row was rejected (not imported). */
struct kt_rec_reject {
	enum kt_field field; /* KT_FIELD_IGNORE: the row as a whole */
	char reason[256];
};

/*
 * Build r from one row: values[i] is the text of m->columns[i] (NULL =
 * absent), file/line say where it came from. Normalises every field;
 * field-level problems become issues and the record is kept (invalid
 * identifiers stay as data, flagged). The row is rejected - KT_ERR_INVALID
 * with *rej filled - when the account id or the company name is missing or
 * unusable, a required column is empty, or a value exceeds
 * KT_NORM_TEXT_MAX bytes. KT_ERR_NOMEM on allocation failure.
 */
int kt_rec_build(struct kt_rec *r, const struct kt_mapping *m,
		 const char *const *values, const char *file, uint64_t line,
		 struct kt_rec_reject *rej);

/* "BY:100234": the record id used by the matcher and the ground truth. */
int kt_rec_id(const struct kt_rec *r, char *buf, size_t cap);

/* One JSON object and a newline. 0 or KT_ERR_IO / KT_ERR_NOMEM. */
int kt_rec_write_json(struct kt_rec *r, FILE *out);

/*
 * Read a record written by kt_rec_write_json (r is reset first).
 * Errors: "record: .name.key: expected a string" (KT_ERR_INVALID).
 */
int kt_rec_from_json(struct kt_rec *r, const json_t *obj, struct kt_error *err);

/*
 * The matcher's view: KT_REC_MATCH_NCOLS strings in this order
 *   0 name_key      folded name without legal form ("mueller bau")
 *   1 legal_form    code ("GMBH") or ""
 *   2 vat           valid VAT id; else "DE"+core of a valid W-IdNr; else ""
 *   3 taxno         valid 13-digit federal tax number or ""
 *   4 register      "court_id|TYPE|number[ suffix]" if valid with a known
 *                   court, else ""
 *   5 postcode      5 digits or ""
 *   6 city          city key ("frankfurt am main")
 *   7 street        street key ("haupt str")
 *   8 house_number  normalised ("12a")
 *   9 email         every valid e-mail of the record (company and
 *                   contact), lower case, unique, sorted, space separated
 * Invalid identifiers never appear: an empty string means "no evidence".
 * Strings live in r's arena. 0 or KT_ERR_NOMEM.
 */
#define KT_REC_MATCH_NCOLS 10
int kt_rec_match_row(struct kt_rec *r, const char *row[KT_REC_MATCH_NCOLS]);
/* Name of matcher column i ("name_key", ...), "" if out of range. */
const char *kt_rec_match_column(size_t i);

/*
 * Parse a date as exported: "2023-05-02" (also with a time after 'T' or a
 * space), "2.5.2023" / "02.05.2023" (also with a time), or Unix seconds.
 * out gets "YYYY-MM-DD". 0 or KT_ERR_INVALID.
 */
int kt_rec_parse_date(const char *in, char out[11]);

/*
 * Yes/no as exported: "1", "true", "ja", "j", "yes", "y", "x", "wahr" and
 * "0", "false", "nein", "n", "no", "falsch", "" (case-insensitive).
 * 0 with *out, or KT_ERR_INVALID.
 */
int kt_rec_parse_bool(const char *in, int *out);

#endif
