#ifndef KONTOR_IDENT_H
#define KONTOR_IDENT_H

/*
 * German company identifiers: USt-IdNr (VAT id), Steuernummer (tax
 * number), Handelsregister entries and the Wirtschafts-Identifikations-
 * nummer (W-IdNr). Rules: the developer reference
 * german-company-identifiers.md, summarised in docs/migration.md.
 *
 * Each normaliser writes the normalised value into a caller-owned buffer
 * and returns 0 when the identifier is valid, or a negative KT_ERR_* with
 * a reason in *err (may be NULL). An invalid identifier is still data:
 * callers keep the raw text and the flag, and must never treat it as proof
 * of identity. No globals, no allocation: safe from any thread; the
 * gateway's company model uses the same functions.
 */

#include <stddef.h>

#include "kontor/err.h"
#include "kontor/land.h"

/* ---- USt-IdNr ------------------------------------------------------------ */

/*
 * ISO/IEC 7064 MOD 11,10 check digit over 8 ASCII digits: 0..9, or -1 if a
 * character is not a digit.
 */
int kt_ident_vat_check_digit(const char digits[8]);

/*
 * Normalise a German VAT id: strip whitespace, upper-case the prefix, then
 * require "DE" + 9 digits whose last digit is the MOD 11,10 check digit of
 * the first 8. out gets "DE" + 9 digits whenever the text has that shape
 * (even with a wrong check digit, so the value can be shown and audited),
 * else "". Reasons: "empty VAT id", "not a German VAT id (country 'AT')",
 * "must start with DE", "expected 9 digits after DE, found 8",
 * "unexpected character 'x'", "check digit is 9, expected 8".
 */
int kt_ident_vat_normalize(const char *in, char out[12], struct kt_error *err);

/* ---- W-IdNr -------------------------------------------------------------- */

/*
 * Format check of a Wirtschafts-Identifikationsnummer: "DE" + 9 digits +
 * "-" + 5 digits ("DE123456788-00001"); whitespace stripped, the prefix
 * upper-cased, a missing hyphen tolerated. out gets the canonical form or
 * "". The 9-digit core is not check-digit tested (the reference asks for a
 * format check only). Reasons: "empty W-IdNr", "must start with DE",
 * "expected 9 digits after DE", "suffix must have 5 digits",
 * "unexpected character 'x'".
 */
int kt_ident_widnr_normalize(const char *in, char out[18],
			     struct kt_error *err);

/* ---- Steuernummer -------------------------------------------------------- */

/*
 * Convert a Steuernummer to the 13-digit federal form (ELSTER,
 * "FFFF0BBBUUUUP"). Input: the 13-digit federal form (any Land; land is
 * then ignored), or the Land notation of land (10 or 11 digits, separated
 * by '/' or spaces, or unseparated). Separators may sit only at the Land's
 * field boundaries (Finanzamt | district | number); a fixed leading digit
 * (0 for BB HE MV SL, 2 for SN, 1 for ST TH) must be present. The check
 * digit P is NOT verified (Land-specific procedures; the reference asks for
 * format and Land prefix only). out gets 13 digits or "".
 * Reasons, e.g.: "empty tax number", "unexpected character 'x'",
 * "12 digits: neither a Land notation nor the 13-digit federal form",
 * "ambiguous without the Land: the notation fits BE, HH, NI, RP",
 * "does not fit the notation of BY (FFF/BBB/UUUUP)",
 * "unknown Land prefix '19' in the federal form",
 * "fifth digit of the federal form must be 0".
 */
int kt_ident_taxno_normalize(const char *in, enum kt_land land, char out[14],
			     struct kt_error *err);

/*
 * The same with several candidate Länder in order of preference (e.g. the
 * Land of the company's postcode, then the exporting portal's): the first
 * whose notation fits wins; if none does, a Land whose *canonical*
 * notation (exact grouping and separator) is the only one to fit is used
 * (BW "FFBBB/UUUUP" and NW "FFF/BBBB/UUUP" are recognisable anywhere).
 * *used (may be NULL) gets the Land the number belongs to. Reasons as
 * above, for the first candidate; when several canonical notations fit
 * but no candidate does: "Land unknown: not the notation of BY; the
 * notation fits BE, HH, NI, RP".
 */
int kt_ident_taxno_resolve(const char *in, const enum kt_land *lands, size_t n,
			   char out[14], enum kt_land *used,
			   struct kt_error *err);

/* Land of a 13-digit federal form by its prefix, or KT_LAND_NONE. */
enum kt_land kt_ident_taxno_land(const char *federal);

/*
 * Federal form back to the Land's printed notation ("9143021530457" ->
 * "143/215/30457"). 0, KT_ERR_INVALID or KT_ERR_LIMIT.
 */
int kt_ident_taxno_format_land(const char *federal, char *out, size_t cap);

/* ---- Handelsregister ----------------------------------------------------- */

enum kt_ident_regtype {
	KT_REG_NONE = 0,
	KT_REG_HRA,
	KT_REG_HRB,
	KT_REG_GNR,
	KT_REG_PR,
	KT_REG_VR,
	KT_REG_GSR,
};

/* "HRA", "HRB", "GnR", "PR", "VR", "GsR"; "" for none. */
const char *kt_ident_regtype_name(enum kt_ident_regtype t);

struct kt_ident_register {
	enum kt_ident_regtype type;
	char number[16];   /* digits, no leading zeros */
	char suffix[8];	   /* "B", "PI", ... or "" */
	int court_known;   /* court matched the table of register courts */
	char court_id[32]; /* "charlottenburg"; "" if unknown */
	char court[96];	   /* canonical name, or the text as written when
			      unknown ("" when no court was given) */
	enum kt_land court_land; /* Land of a known court */
};

/*
 * Parse a free-text register entry: "HRB 1234, Amtsgericht Kiel",
 * "AG Kiel HRB 1234 B", "Amtsgericht Charlottenburg (Berlin) HRB 12345 B",
 * "HRB 12345 B (AG Charlottenburg)", "Registergericht: Amtsgericht
 * Charlottenburg, Registernummer: HRB 12345 B", "HR B 1234", "HRB12345B",
 * "VR 123", "GnR 45", "PR 7", "GsR 12", "Pinneberg HRA 1749 IZ".
 * Returns 0 when type and number were found (court may still be unknown:
 * check court_known - "HRB 1234" without a court identifies nothing), else
 * KT_ERR_INVALID with "empty register entry",
 * "unknown register type 'HRC'", "register number missing after HRB",
 * "no register type and number found", "register number too long".
 */
int kt_ident_register_parse(const char *in, struct kt_ident_register *out,
			    struct kt_error *err);

/*
 * The comparable identity of an entry: "court_id|TYPE|number[ suffix]",
 * e.g. "charlottenburg|HRB|12345 B". Empty when the court is unknown, so
 * that a bare "HRB 1234" can never be used as evidence. 0 or KT_ERR_LIMIT.
 */
int kt_ident_register_key(const struct kt_ident_register *r, char *out,
			  size_t cap);

/*
 * Look up a register court by name as written ("Amtsgericht Frankfurt
 * a. M.", "Berlin (Charlottenburg)", "Kiel"). 0 and the canonical
 * name/id/Land (each out-pointer may be NULL; strings are static), or
 * KT_ERR_NOTFOUND.
 */
int kt_ident_court_lookup(const char *text, const char **name, const char **id,
			  enum kt_land *land);

/* Number of courts in the table, and the i-th (for docs and generators). */
size_t kt_ident_court_count(void);
int kt_ident_court_at(size_t i, const char **name, const char **id,
		      enum kt_land *land);

#endif
