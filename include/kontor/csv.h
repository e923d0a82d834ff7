#ifndef KONTOR_CSV_H
#define KONTOR_CSV_H

/*
 * Streaming RFC 4180 reader for the Länder's account exports.
 *
 *  - configurable delimiter and quote character; quoted fields may hold
 *    delimiters, doubled quotes and line breaks; records end in LF, CRLF
 *    or a lone CR; completely empty lines are skipped;
 *  - a quote inside an unquoted field is taken literally (common in
 *    hand-made exports: Müller "Bau" GmbH); anything but a delimiter or a
 *    line end after a closing quote is an error;
 *  - input in UTF-8 (validated), Windows-1252 or ISO-8859-1, converted to
 *    UTF-8 with our own tables (no iconv: the three tables are 32 entries,
 *    and iconv's behaviour on the five undefined Windows-1252 bytes
 *    differs between implementations); a UTF-8 byte order mark is skipped
 *    and wins over the configured encoding; UTF-16 is refused;
 *  - hard limits on field size, fields per record and record size;
 *  - every error is fatal for the file and reads "name:line: reason", with
 *    the line where the record (or the open quote) started, e.g.
 *    "by.csv:123: unterminated quoted field".
 *
 * Memory is bounded by the limits; the file is read in 64 KiB chunks.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kontor/err.h"

enum kt_csv_encoding {
	KT_CSV_UTF8 = 0,
	KT_CSV_WINDOWS_1252,
	KT_CSV_ISO_8859_1,
};

/*
 * "utf-8"/"utf8", "windows-1252"/"cp1252", "iso-8859-1"/"latin1"/
 * "latin-1" (case-insensitive). 0 or KT_ERR_INVALID.
 */
int kt_csv_encoding_parse(const char *name, enum kt_csv_encoding *out);
/* "utf-8", "windows-1252", "iso-8859-1". */
const char *kt_csv_encoding_name(enum kt_csv_encoding enc);

/*
 * Convert n bytes to UTF-8 into out (capacity at least 3 * n + 1, NUL
 * added); *outlen gets the length. UTF-8 input is validated and copied.
 * KT_ERR_INVALID on invalid UTF-8 or an undefined Windows-1252 byte (0x81,
 * 0x8D, 0x8F, 0x90, 0x9D); *bad (may be NULL) gets its offset.
 */
int kt_csv_to_utf8(enum kt_csv_encoding enc, const char *in, size_t n,
		   char *out, size_t *outlen, size_t *bad);

#define KT_CSV_DEFAULT_MAX_FIELD (64 * 1024)
#define KT_CSV_DEFAULT_MAX_FIELDS 512
#define KT_CSV_DEFAULT_MAX_RECORD (1024 * 1024)

struct kt_csv_opts {
	char delimiter;		       /* default ',' */
	char quote;		       /* default '"'; '\0' = no quoting */
	enum kt_csv_encoding encoding; /* default UTF-8 */
	size_t max_field;	       /* bytes of one field, as read */
	size_t max_fields;	       /* fields per record */
	size_t max_record;	       /* bytes of one record, as read */
};

void kt_csv_opts_default(struct kt_csv_opts *o);

struct kt_csv;

/* One record; pointers valid until the next kt_csv_next()/kt_csv_free(). */
struct kt_csv_row {
	size_t n;      /* number of fields (>= 1) */
	char **field;  /* UTF-8, NUL-terminated */
	size_t *len;   /* byte length of each field */
	uint64_t line; /* line where the record starts (1-based) */
};

/*
 * Open a file for reading. name_for_errors defaults to path. 0,
 * KT_ERR_IO, KT_ERR_INVALID (bad options), KT_ERR_NOMEM.
 */
int kt_csv_open(const char *path, const struct kt_csv_opts *o,
		struct kt_csv **out, struct kt_error *err);

/* Read from memory (not copied; must outlive the reader). */
int kt_csv_open_mem(const char *name, const void *data, size_t len,
		    const struct kt_csv_opts *o, struct kt_csv **out,
		    struct kt_error *err);

/*
 * Next record: 1 (row filled), 0 at the end, or a negative KT_ERR_* with
 * "name:line: reason" in *err: KT_ERR_INVALID (malformed: unterminated
 * quoted field, character after a closing quote, invalid UTF-8, undefined
 * byte, NUL byte, UTF-16), KT_ERR_LIMIT (a limit), KT_ERR_IO, KT_ERR_NOMEM.
 * After an error every further call returns the same error.
 */
int kt_csv_next(struct kt_csv *c, struct kt_csv_row *row, struct kt_error *err);

/* Bytes consumed so far (for progress), and whether a BOM was found. */
uint64_t kt_csv_bytes_read(const struct kt_csv *c);
int kt_csv_had_bom(const struct kt_csv *c);
/* The encoding in effect (a UTF-8 BOM switches to UTF-8). */
enum kt_csv_encoding kt_csv_encoding(const struct kt_csv *c);

void kt_csv_free(struct kt_csv *c);

/*
 * Writing: one field to out, comma-separated RFC 4180 style: as it is,
 * or in double quotes (quotes doubled) when it holds a comma, a quote, CR
 * or LF. The caller writes the separators and line ends.
 */
void kt_csv_put(FILE *out, const char *s);

#endif
