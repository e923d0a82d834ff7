#ifndef KONTOR_MAPPING_H
#define KONTOR_MAPPING_H

/*
 * A mapping file tells the importer how one Land's export is laid out:
 * which Land it comes from, its format (CSV or JSON Lines), encoding and
 * delimiter, and which column holds which canonical field - including
 * composite columns that the normaliser splits (a one-line address, a
 * free-text register entry, a legal form inside the name, a postcode
 * stored as a number). docs/migration.md describes the format; errors read
 * like the gateway's configuration errors:
 *   mapping: .columns[3].field: unknown canonical field 'foo'
 *   mapping: .land: unknown Land code 'XX' (expected one of BW BY ...)
 * Parsed once, read-only afterwards.
 */

#include <stddef.h>

#include <jansson.h>

#include "kontor/csv.h"
#include "kontor/err.h"
#include "kontor/land.h"

#define KT_MAPPING_MAX_FILE_SIZE (1024 * 1024)
#define KT_MAPPING_MAX_COLUMNS 256
#define KT_MAPPING_MAX_NAME 256

/* The canonical fields of a company account as exported by a Land. */
enum kt_field {
	KT_FIELD_IGNORE = 0,	 /* a column the import skips */
	KT_FIELD_ACCOUNT_ID,	 /* legacy account id (required) */
	KT_FIELD_CONFIRMED_AT,	 /* date the data was last confirmed */
	KT_FIELD_NAME,		 /* company name (required) */
	KT_FIELD_LEGAL_FORM,	 /* legal form in its own column */
	KT_FIELD_VAT_ID,	 /* USt-IdNr */
	KT_FIELD_TAX_NUMBER,	 /* Steuernummer */
	KT_FIELD_W_IDNR,	 /* Wirtschafts-Identifikationsnummer */
	KT_FIELD_REGISTER,	 /* free text "HRB 1234, AG Kiel" */
	KT_FIELD_REGISTER_COURT, /* ... or split in three columns */
	KT_FIELD_REGISTER_TYPE,
	KT_FIELD_REGISTER_NUMBER,
	KT_FIELD_ADDRESS_LINE, /* "Hauptstr. 12a, 24103 Kiel" */
	KT_FIELD_STREET,       /* with or without the house number */
	KT_FIELD_HOUSE_NUMBER,
	KT_FIELD_POSTCODE,
	KT_FIELD_CITY,
	KT_FIELD_EMAIL,	       /* company e-mail(s); repeatable */
	KT_FIELD_CONTACT_NAME, /* "Hans Müller" / "Müller, Hans" */
	KT_FIELD_CONTACT_FIRST_NAME,
	KT_FIELD_CONTACT_LAST_NAME,
	KT_FIELD_CONTACT_EMAIL,
	KT_FIELD_CONTACT_EMAIL_VERIFIED,
	KT_FIELD_CONTACT_PASSWORD_HASH, /* legacy hash string, as exported */
	KT_FIELD_CONTACT_ROLE,
};
#define KT_FIELD_COUNT (KT_FIELD_CONTACT_ROLE + 1)

/* "account_id"; "" if out of range. */
const char *kt_mapping_field_name(enum kt_field f);
/* 0 or KT_ERR_INVALID. */
int kt_mapping_field_parse(const char *name, enum kt_field *out);

enum kt_mapping_format {
	KT_MAPPING_CSV = 0,
	KT_MAPPING_JSONL,
};

struct kt_mapping_column {
	char *column; /* header name, or JSON path for JSON Lines;
			 NULL when addressed by index */
	int index;    /* 0-based CSV column, or -1 */
	enum kt_field field;
	int numeric;  /* postcode stored as a number ("1067.0") */
	int required; /* reject the row when empty */
};

struct kt_mapping {
	char *source; /* label for reports; default "<land>" */
	enum kt_land land;
	enum kt_mapping_format format;
	enum kt_csv_encoding encoding;
	char delimiter;
	char quote; /* '\0': no quoting */
	int header; /* CSV: first record names the columns */
	struct kt_mapping_column *columns;
	size_t n_columns;
};

/*
 * Load and validate. Errors: "mapping: <path>: <reason>" (KT_ERR_INVALID),
 * "mapping: FILE: larger than 1 MiB" (KT_ERR_LIMIT), KT_ERR_IO.
 * Caller frees with kt_mapping_free().
 */
int kt_mapping_load_file(const char *path, struct kt_mapping **out,
			 struct kt_error *err);
int kt_mapping_load_string(const char *json, struct kt_mapping **out,
			   struct kt_error *err);
void kt_mapping_free(struct kt_mapping *m);

/* The mapping as JSON in the file format (new reference). */
json_t *kt_mapping_to_json(const struct kt_mapping *m);

/*
 * Bind the columns of a CSV mapping to the header of a file: idx[i] gets
 * the file column of m->columns[i]. Names are compared after trimming
 * spaces, exactly first, then ignoring ASCII case. Errors (KT_ERR_INVALID):
 * "FILE:LINE: column 'Firma' is not in the header",
 * "FILE:LINE: column 'PLZ' appears twice in the header",
 * "FILE:LINE: column index 12 is beyond the 10 columns of the header".
 * header may be NULL for files without a header (indexes only; then n is
 * the number of fields of the first record).
 */
int kt_mapping_bind_header(const struct kt_mapping *m, char *const *header,
			   size_t n, const char *file, unsigned long long line,
			   size_t *idx, struct kt_error *err);

#endif
