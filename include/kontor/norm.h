#ifndef KONTOR_NORM_H
#define KONTOR_NORM_H

/*
 * Normalisation of German company data from the Länder's account exports:
 * company names and legal forms, addresses, e-mail addresses, person names.
 * Facts and rules: docs/migration.md and the developer reference
 * (german-company-identifiers.md).
 *
 * Every function takes UTF-8 and writes into caller-owned buffers with an
 * explicit capacity; nothing allocates, nothing keeps state (thread-safe).
 * A result that does not fit gives KT_ERR_LIMIT, invalid UTF-8 gives
 * KT_ERR_INVALID; callers bound their input first (KT_NORM_TEXT_MAX).
 *
 * Two forms of every text exist:
 *  - the *display* form: what a person reads (trimmed, single spaces,
 *    ALL CAPS turned into normal capitalisation, canonical legal form
 *    spelling);
 *  - the *key* form for comparison: folded with kt_norm_fold().
 */

#include <stddef.h>

#include "kontor/err.h"
#include "kontor/land.h"

/* Longest input text any function here accepts, in bytes. */
#define KT_NORM_TEXT_MAX 1024

/*
 * Fold UTF-8 text into the comparison alphabet:
 *  - letters lower-cased; ä ö ü -> ae oe ue, ß and ẞ -> ss, Æ/Œ -> ae/oe,
 *    other accented Latin letters (U+00C0-U+017F) -> their base letter;
 *  - apostrophes (' ’ ‘ ` ´) removed without a gap ("Müller's" ->
 *    "muellers");
 *  - every other non-alphanumeric character (punctuation, symbols,
 *    whitespace, controls) separates tokens; tokens are joined by exactly
 *    one space, no leading or trailing space;
 *  - letters outside Latin (Greek, Cyrillic, ...) pass through unchanged.
 * Flags:
 *  KT_NORM_FOLD_AMP: '&' and '+' become the token "und" instead of a gap.
 *  KT_NORM_FOLD_LOOSE: additionally ae/oe/ue -> a/o/u and ä/ö/ü -> a/o/u,
 *    so "Muller", "Mueller" and "Müller" agree. Lossy (also "Michael" ->
 *    "michal"), meant for blocking keys, never for display.
 * Writes a NUL-terminated string; 0, KT_ERR_LIMIT (out too small) or
 * KT_ERR_INVALID (not UTF-8).
 */
#define KT_NORM_FOLD_AMP 0x1u
#define KT_NORM_FOLD_LOOSE 0x2u
int kt_norm_fold(const char *in, size_t len, char *out, size_t cap,
		 unsigned flags);

/*
 * Display form of free text: trimmed, runs of whitespace and control
 * characters collapsed into one space, and - when the text has no lower-case
 * letter and at least two upper-case ones - ALL CAPS turned into
 * capitalised words ("MÜLLER-LÜDENSCHEIDT UND SÖHNE" -> "Müller-Lüdenscheidt
 * und Söhne"; words of one or two letters such as "IT" stay upper case,
 * German connecting words become lower case).
 */
int kt_norm_display(const char *in, char *out, size_t cap);

/* ---- legal forms ------------------------------------------------------ */

/*
 * Canonical legal-form codes (the table with every accepted spelling is in
 * docs/migration.md). KT_LF_NONE means "not stated" - not "sole trader".
 */
enum kt_lf {
	KT_LF_NONE = 0,
	KT_LF_GMBH,
	KT_LF_GGMBH,
	KT_LF_UG,
	KT_LF_AG,
	KT_LF_KGAA,
	KT_LF_SE,
	KT_LF_KG,
	KT_LF_OHG,
	KT_LF_GMBH_CO_KG,
	KT_LF_EK,
	KT_LF_EG,
	KT_LF_EV,
	KT_LF_GBR,
	KT_LF_PARTG,
	KT_LF_EINZEL,
	KT_LF_STIFTUNG,
	KT_LF_KDOER,
	KT_LF_AOER,
	KT_LF_VVAG,
	KT_LF_EWIV,
	KT_LF_LTD,
};
#define KT_LF_COUNT (KT_LF_LTD + 1)

/* "GMBH_CO_KG"; "" for KT_LF_NONE. */
const char *kt_norm_lf_code(enum kt_lf lf);
/* Canonical short spelling: "GmbH & Co. KG"; "" for KT_LF_NONE. */
const char *kt_norm_lf_label(enum kt_lf lf);
/* Register the form is entered in: "HRA", "HRB", "GnR", "PR", "VR", "GsR"
 * or "" (none or it varies). */
const char *kt_norm_lf_register(enum kt_lf lf);
/* Code string ("GMBH") back to the enum; 0 or KT_ERR_INVALID. */
int kt_norm_lf_from_code(const char *code, enum kt_lf *out);

/*
 * A legal form given in a column of its own: the whole text must be one
 * known spelling ("GmbH", "G.m.b.H.", "Gesellschaft mit beschränkter
 * Haftung", "GmbH & Co. KG", "Einzelunternehmen", a code such as
 * "GMBH_CO_KG", ...). Empty text gives KT_LF_NONE and 0; unknown text
 * gives KT_ERR_INVALID.
 */
int kt_norm_legal_form(const char *text, enum kt_lf *out);

/* States of a company written after its name; not legal forms. */
#define KT_NORM_STATE_LIQUIDATION 0x1u /* i.L., in Liquidation */
#define KT_NORM_STATE_FORMATION 0x2u   /* i.G., i.Gr., in Gründung */
#define KT_NORM_STATE_INSOLVENCY 0x4u  /* in Insolvenz */

#define KT_NORM_NAME_CAP 2048

struct kt_norm_company {
	char display[KT_NORM_NAME_CAP]; /* "Müller Bau GmbH & Co. KG" */
	char key[KT_NORM_NAME_CAP];	/* "mueller bau": no legal form */
	enum kt_lf legal_form;		/* the one to use */
	enum kt_lf legal_form_in_name;	/* found at the end of the name */
	enum kt_lf legal_form_column;	/* from the legal-form column */
	int legal_form_conflict;	/* both given and they differ */
	unsigned state;			/* KT_NORM_STATE_* */
};

/*
 * Normalise a company name. The legal form is taken from the end of the
 * name (longest known spelling wins, so "GmbH & Co. KG" is not read as
 * "KG"; "& Co." forms are recognised as a whole), after stripping state
 * suffixes (i.L., i.G., in Insolvenz). "Inh. <owner>" marks a sole trader
 * (KT_LF_EINZEL) and is left out of the key. A leading "Fa."/"Firma" is
 * left out of the key too. lf_column (may be NULL or "") is the legal-form
 * column if the export has one: when both are present and differ, the
 * name's form wins (the registered firm name must carry its legal form) and
 * legal_form_conflict is set - except when the name only says "Inh." (an
 * owner: sole trader or e.K.), where a form in the column is more precise
 * and wins; an unknown column text is ignored for the
 * result and reported as KT_ERR_INVALID only if the name has no form
 * either - callers that care check kt_norm_legal_form() themselves.
 * The key form folds with KT_NORM_FOLD_AMP ("&" = "und", also "u." and
 * "+") and joins runs of single letters ("A.B.C. Bau" -> "abc bau").
 * Returns 0, KT_ERR_INVALID (empty name, not UTF-8), KT_ERR_LIMIT (longer
 * than KT_NORM_TEXT_MAX).
 */
int kt_norm_company_name(const char *raw, const char *lf_column,
			 struct kt_norm_company *out, struct kt_error *err);

/* ---- addresses ---------------------------------------------------------- */

#define KT_NORM_PLZ_PADDED 0x1u /* 4 digits: a leading 0 was restored */
#define KT_NORM_PLZ_NUMBER 0x2u /* written as a number ("1067.0") */
#define KT_NORM_PLZ_OFF_LAND                                                   \
	0x4u /* restored, but the Land given has no                            \
	       postcodes below 10000 */

/*
 * German postcode to 5 digits. Accepts surrounding spaces and a "D-"/"DE-"
 * prefix; a 4-digit value gets its lost leading zero back (spreadsheets
 * store postcodes as numbers), and KT_NORM_PLZ_OFF_LAND is set when land is
 * a Land without such postcodes (the value is still restored: companies
 * sign up in other Länder's portals). With numeric set, a spreadsheet
 * number form "1067.0" / "1067,0" is accepted too. Zone 00 does not exist.
 * Writes out (always NUL-terminated, "" on error) and *flags.
 * 0 or KT_ERR_INVALID with a message.
 */
int kt_norm_postcode(const char *in, enum kt_land land, int numeric,
		     char out[6], unsigned *flags, struct kt_error *err);

/*
 * Split "Hauptstr. 12a" / "Straße des 17. Juni 5" / "Am Markt 4 - 8" /
 * "Hauptstr.12" into street and house number (both display forms). No
 * number found: the whole text is the street and number is "".
 */
int kt_norm_street_split(const char *in, char *street, size_t scap,
			 char *number, size_t ncap);

/*
 * Key form of a street: folded, "Straße"/"Strasse"/"Str."/"Strase" (also
 * inside compounds: "Hauptstraße" -> "haupt str") -> "str", "Pl." and
 * "-platz" -> "platz", "St." -> "sankt". Hyphens become gaps, so
 * "Hans-Böckler-Str." and "Hans Böckler Straße" give "hans boeckler str".
 */
int kt_norm_street_key(const char *street, char *out, size_t cap);

/* 1 if the street is a PO box ("Postfach", "Pf.", "PF"). */
int kt_norm_street_is_po_box(const char *street);

/*
 * House number: "16 c" / "16C" -> "16c", "4 - 8" -> "4-8", "12/1" stays,
 * "12 1/2" stays. Writes the normalised form; returns KT_ERR_INVALID when
 * it does not start with a digit or contains other characters (out then
 * holds the cleaned text anyway).
 */
int kt_norm_house_number(const char *in, char *out, size_t cap,
			 struct kt_error *err);

/* Key form of a city: folded, "a." -> "am", "i." -> "im", "a.d." -> "an
 * der", "Frankfurt/Main" and "Frankfurt a. M." -> "frankfurt am main",
 * "Freiburg i. Br." -> "freiburg im breisgau", "St." -> "sankt". */
int kt_norm_city_key(const char *city, char *out, size_t cap);

struct kt_norm_address {
	char street[KT_NORM_TEXT_MAX];
	char house_number[64];
	char postcode[16]; /* as written; normalise with kt_norm_postcode */
	char city[KT_NORM_TEXT_MAX];
};

/*
 * Split a one-line address: "Hauptstr. 12a, 24103 Kiel",
 * "Hauptstr. 12a 24103 Kiel", "Hauptstr. 12a, D-24103 Kiel",
 * "24103 Kiel, Hauptstr. 12a", also with a 4-digit postcode. Every part is
 * a display form. KT_ERR_INVALID ("no postcode and city found") when no
 * 4-5 digit postcode followed by a city is present.
 */
int kt_norm_address_line(const char *in, struct kt_norm_address *out,
			 struct kt_error *err);

/* ---- e-mail and persons ------------------------------------------------- */

#define KT_NORM_EMAIL_MAX 254

/*
 * Trim, drop a "mailto:" prefix and surrounding <>, lower-case the domain
 * (the local part keeps its case: RFC 5321 leaves it to the receiving
 * system), then check the syntax: one '@'; local part a dot-atom of at most
 * 64 ASCII characters; domain of at most 253 characters in at least two
 * LDH labels (UTF-8 letters accepted for internationalised names); a
 * top-level label of letters or "xn--". out (KT_NORM_EMAIL_MAX + 1) gets
 * the cleaned text even when it is invalid. 0 or KT_ERR_INVALID with a
 * reason.
 */
int kt_norm_email(const char *in, char *out, size_t cap, struct kt_error *err);

/*
 * Person name: "MÜLLER, HANS" / "Herr Dr. Hans Müller" / "hans mueller".
 * "Last, First" is turned round; ALL CAPS and all lower case are
 * capitalised; the display keeps academic titles, drops salutations (Herr,
 * Frau); the key drops both and folds ("hans mueller").
 */
int kt_norm_person_name(const char *in, char *display, size_t dcap, char *key,
			size_t kcap);

#endif
