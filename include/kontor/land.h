#ifndef KONTOR_LAND_H
#define KONTOR_LAND_H

/*
 * The sixteen Länder: the exporting portal of every migrated record, the key
 * to Land-specific notations (Steuernummer) and to the postcode zones.
 * Codes are the ISO 3166-2 subdivision codes without the "DE-" prefix.
 */

#include <stddef.h>

enum kt_land {
	KT_LAND_NONE = 0, /* unknown / not given */
	KT_LAND_BW,
	KT_LAND_BY,
	KT_LAND_BE,
	KT_LAND_BB,
	KT_LAND_HB,
	KT_LAND_HH,
	KT_LAND_HE,
	KT_LAND_MV,
	KT_LAND_NI,
	KT_LAND_NW,
	KT_LAND_RP,
	KT_LAND_SL,
	KT_LAND_SN,
	KT_LAND_ST,
	KT_LAND_SH,
	KT_LAND_TH,
};

#define KT_LAND_COUNT 16

/* All codes in enum order, space separated: "BW BY BE ... TH". */
#define KT_LAND_CODES "BW BY BE BB HB HH HE MV NI NW RP SL SN ST SH TH"

/*
 * "BY" or "DE-BY" (upper case, exactly) to KT_LAND_BY. 0 or KT_ERR_INVALID
 * (*out set to KT_LAND_NONE).
 */
int kt_land_parse(const char *s, enum kt_land *out);

/* "BY"; "" for KT_LAND_NONE or out of range. */
const char *kt_land_code(enum kt_land land);

/* "Bayern" (UTF-8); "" for KT_LAND_NONE or out of range. */
const char *kt_land_name(enum kt_land land);

/*
 * The Land of a 5-digit postcode's two-digit zone (Leitregion) when that
 * zone lies in one Land only, else KT_LAND_NONE. Zones shared by several
 * Länder (e.g. 14 Berlin/Brandenburg, 21 and 22 Hamburg/Niedersachsen/
 * Schleswig-Holstein, 89 Bayern/Ulm) give KT_LAND_NONE on purpose: the
 * answer is used to pick a Land-specific notation and must not guess.
 * The zone table is our own summary of the postcode map (approximate at the
 * borders; see docs/migration.md).
 */
enum kt_land kt_land_from_postcode(const char *plz);

/*
 * 1 if the Land has postcodes below 10000 (leading 0): Brandenburg,
 * Sachsen, Sachsen-Anhalt, Thüringen.
 */
int kt_land_has_zero_postcodes(enum kt_land land);

#endif
