#include <string.h>

#include "kontor/err.h"
#include "kontor/land.h"

static const struct {
	const char *code;
	const char *name;
} lands[KT_LAND_COUNT + 1] = {
    {"", ""},
    {"BW", "Baden-Württemberg"},
    {"BY", "Bayern"},
    {"BE", "Berlin"},
    {"BB", "Brandenburg"},
    {"HB", "Bremen"},
    {"HH", "Hamburg"},
    {"HE", "Hessen"},
    {"MV", "Mecklenburg-Vorpommern"},
    {"NI", "Niedersachsen"},
    {"NW", "Nordrhein-Westfalen"},
    {"RP", "Rheinland-Pfalz"},
    {"SL", "Saarland"},
    {"SN", "Sachsen"},
    {"ST", "Sachsen-Anhalt"},
    {"SH", "Schleswig-Holstein"},
    {"TH", "Thüringen"},
};

int kt_land_parse(const char *s, enum kt_land *out)
{
	*out = KT_LAND_NONE;
	if (s == NULL)
		return KT_ERR_INVALID;
	if (strncmp(s, "DE-", 3) == 0)
		s += 3;
	for (int i = 1; i <= KT_LAND_COUNT; i++) {
		if (strcmp(s, lands[i].code) == 0) {
			*out = (enum kt_land)i;
			return KT_OK;
		}
	}
	return KT_ERR_INVALID;
}

const char *kt_land_code(enum kt_land land)
{
	if ((int)land < 0 || (int)land > KT_LAND_COUNT)
		return "";
	return lands[land].code;
}

const char *kt_land_name(enum kt_land land)
{
	if ((int)land < 0 || (int)land > KT_LAND_COUNT)
		return "";
	return lands[land].name;
}

/*
 * Two-digit postcode zone -> Land, NONE where the zone is unassigned or
 * crosses a Land border in a way that matters (same-length tax number
 * notations on both sides). Index = zone 00..99.
 */
#define N_ KT_LAND_NONE
static const enum kt_land zone_land[100] = {
    /* 00-09 */ N_,
    KT_LAND_SN,
    KT_LAND_SN,
    KT_LAND_BB,
    N_,
    N_,
    KT_LAND_ST,
    KT_LAND_TH,
    KT_LAND_SN,
    KT_LAND_SN,
    /* 10-19 */ KT_LAND_BE,
    N_,
    KT_LAND_BE,
    KT_LAND_BE,
    N_,
    KT_LAND_BB,
    KT_LAND_BB,
    N_,
    KT_LAND_MV,
    N_,
    /* 20-29 */ KT_LAND_HH,
    N_,
    N_,
    KT_LAND_SH,
    KT_LAND_SH,
    KT_LAND_SH,
    KT_LAND_NI,
    N_,
    N_,
    N_,
    /* 30-39 */ KT_LAND_NI,
    KT_LAND_NI,
    KT_LAND_NW,
    KT_LAND_NW,
    N_,
    KT_LAND_HE,
    KT_LAND_HE,
    N_,
    N_,
    KT_LAND_ST,
    /* 40-49 */ KT_LAND_NW,
    KT_LAND_NW,
    KT_LAND_NW,
    N_,
    KT_LAND_NW,
    KT_LAND_NW,
    KT_LAND_NW,
    KT_LAND_NW,
    KT_LAND_NW,
    N_,
    /* 50-59 */ KT_LAND_NW,
    KT_LAND_NW,
    KT_LAND_NW,
    N_,
    KT_LAND_RP,
    KT_LAND_RP,
    KT_LAND_RP,
    N_,
    KT_LAND_NW,
    KT_LAND_NW,
    /* 60-69 */ KT_LAND_HE,
    KT_LAND_HE,
    N_,
    N_,
    KT_LAND_HE,
    KT_LAND_HE,
    N_,
    KT_LAND_RP,
    N_,
    N_,
    /* 70-79 */ KT_LAND_BW,
    KT_LAND_BW,
    KT_LAND_BW,
    KT_LAND_BW,
    KT_LAND_BW,
    KT_LAND_BW,
    KT_LAND_BW,
    KT_LAND_BW,
    KT_LAND_BW,
    KT_LAND_BW,
    /* 80-89 */ KT_LAND_BY,
    KT_LAND_BY,
    KT_LAND_BY,
    KT_LAND_BY,
    KT_LAND_BY,
    KT_LAND_BY,
    KT_LAND_BY,
    KT_LAND_BY,
    N_,
    N_,
    /* 90-99 */ KT_LAND_BY,
    KT_LAND_BY,
    KT_LAND_BY,
    KT_LAND_BY,
    KT_LAND_BY,
    KT_LAND_BY,
    N_,
    N_,
    N_,
    KT_LAND_TH,
};
#undef N_

enum kt_land kt_land_from_postcode(const char *plz)
{
	if (plz == NULL || strlen(plz) != 5)
		return KT_LAND_NONE;
	for (int i = 0; i < 5; i++)
		if (plz[i] < '0' || plz[i] > '9')
			return KT_LAND_NONE;
	return zone_land[(plz[0] - '0') * 10 + (plz[1] - '0')];
}

int kt_land_has_zero_postcodes(enum kt_land land)
{
	return land == KT_LAND_BB || land == KT_LAND_SN || land == KT_LAND_ST ||
	       land == KT_LAND_TH;
}
