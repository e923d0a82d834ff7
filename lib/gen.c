#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "kontor/csv.h"
#include "kontor/err.h"
#include "kontor/gen.h"
#include "kontor/ident.h"
#include "kontor/mapping.h"
#include "kontor/norm.h"
#include "kontor/util.h"

/*
 * Design: four passes, each a pure function of the seed.
 *  1. entities: a company with its true attributes (name parts, legal
 *     form, home Land, address and an alternative one after a move,
 *     identifiers, contact persons), plus the traps - Verwaltungs-GmbH of
 *     a GmbH & Co. KG, sister companies - sharing address and domain;
 *  2. appearances: each entity's rows in its home Land and other Länder,
 *     each with its own variation seed;
 *  3. per Land: shuffle, number the accounts, insert the rows meant to be
 *     rejected;
 *  4. render each row through its Land's layout and encoding.
 * Rendering draws from a generator seeded by the row's own seed, so a row
 * looks the same whatever else changes.
 */

/* ---- PRNG: splitmix64 -------------------------------------------------- */

struct rng {
	uint64_t s;
};

static uint64_t rnext(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rbelow(struct rng *r, uint32_t n)
{
	return n ? (uint32_t)((rnext(r) >> 16) % n) : 0;
}

static int rchance(struct rng *r, double p)
{
	return (double)(rnext(r) >> 11) * (1.0 / 9007199254740992.0) < p;
}

static uint64_t mix(uint64_t a, uint64_t b)
{
	struct rng r = {a ^ (b * 0x9e3779b97f4a7c15ull)};
	return rnext(&r);
}

#define PICK(r, arr) ((arr)[rbelow((r), sizeof(arr) / sizeof((arr)[0]))])
#define COUNT(arr) (sizeof(arr) / sizeof((arr)[0]))

/* ---- vocabulary (Latin-1 characters only: every export encoding has them) */

static const char *const surnames[] = {
    "Müller",	  "Schmidt",   "Schneider", "Fischer",	"Weber",
    "Meyer",	  "Wagner",    "Becker",    "Schulz",	"Hoffmann",
    "Schäfer",	  "Koch",      "Bauer",	    "Richter",	"Klein",
    "Wolf",	  "Schröder",  "Neumann",   "Schwarz",	"Zimmermann",
    "Braun",	  "Krüger",    "Hofmann",   "Hartmann", "Lange",
    "Schmitt",	  "Werner",    "Schmitz",   "Krause",	"Meier",
    "Lehmann",	  "Schmid",    "Schulze",   "Maier",	"Köhler",
    "Herrmann",	  "König",     "Walter",    "Mayer",	"Huber",
    "Kaiser",	  "Fuchs",     "Peters",    "Lang",	"Scholz",
    "Möller",	  "Weiß",      "Jung",	    "Hahn",	"Schubert",
    "Vogel",	  "Friedrich", "Keller",    "Günther",	"Frank",
    "Berger",	  "Winkler",   "Roth",	    "Beck",	"Lorenz",
    "Baumann",	  "Franke",    "Albrecht",  "Schuster", "Simon",
    "Ludwig",	  "Böhm",      "Winter",    "Kraus",	"Martin",
    "Schumacher", "Krämer",    "Vogt",	    "Stein",	"Jäger",
    "Otto",	  "Sommer",    "Groß",	    "Seidel",	"Heinrich",
    "Brandt",	  "Haas",      "Schreiber", "Graf",	"Schulte",
    "Dietrich",	  "Ziegler",   "Kuhn",	    "Kühn",	"Pohl",
    "Engel",	  "Horn",      "Busch",	    "Bergmann", "Thomas",
    "Voigt",	  "Sauer",     "Arnold",    "Wolff",	"Pfeiffer",
    "Löffler",	  "Hübner",    "Brückner",  "Gärtner",	"Nußbaum",
    "Rößler",	  "Dörr",      "Schütz",    "Götz",	"Jürgens",
    "Kößler",	  "Özdemir",   "Yilmaz",    "Kaya",	"Nowak",
    "Kowalski",	  "Hansen",    "Petersen",  "Jensen",	"Thiele",
    "Ebert",	  "Kirchner",  "Lindner",   "Marx",	"Fröhlich",
    "Schäffler",  "Mühlbauer", "Großmann",  "Straßer",	"Bäumer",
};

static const char *const firstnames[] = {
    "Hans",	"Peter",  "Klaus",     "Jürgen",    "Thomas",	  "Michael",
    "Andreas",	"Stefan", "Frank",     "Uwe",	    "Jörg",	  "Sabine",
    "Petra",	"Monika", "Andrea",    "Claudia",   "Susanne",	  "Anna",
    "Lena",	"Sören",  "Björn",     "Jens",	    "Maximilian", "Lukas",
    "Jonas",	"Leon",	  "Paul",      "Felix",	    "Sophie",	  "Marie",
    "Laura",	"Julia",  "Katharina", "Günter",    "Dieter",	  "Renate",
    "Ursula",	"Bärbel", "Jörn",      "Anja",	    "Nicole",	  "Sandra",
    "Martina",	"Birgit", "Heike",     "Karin",	    "Gabriele",	  "Christine",
    "Kerstin",	"Tobias", "Florian",   "Sebastian", "Christian",  "Markus",
    "Matthias", "Daniel", "Alexander", "Ralf",	    "Dirk",	  "Holger",
    "Olaf",	"Timo",	  "Malte",     "Hauke",	    "Till",	  "Lea",
    "Mia",	"Emma",	  "Hannah",    "Zoë",	    "Mehmet",	  "Ayşe",
};

static const char *const branches[] = {
    "Bau",
    "Elektro",
    "Sanitär",
    "Heizungsbau",
    "Haustechnik",
    "Dachdeckerei",
    "Malerbetrieb",
    "Tischlerei",
    "Schreinerei",
    "Metallbau",
    "Stahlbau",
    "Holzbau",
    "Gartenbau",
    "Landschaftsbau",
    "Logistik",
    "Transporte",
    "Spedition",
    "Umzüge",
    "Reinigung",
    "Gebäudeservice",
    "Immobilien",
    "Hausverwaltung",
    "Consulting",
    "Unternehmensberatung",
    "Software",
    "IT-Service",
    "Systemhaus",
    "Medien",
    "Werbeagentur",
    "Druckerei",
    "Verlag",
    "Reisen",
    "Touristik",
    "Gastronomie",
    "Catering",
    "Bäckerei",
    "Fleischerei",
    "Autohaus",
    "Kfz-Service",
    "Fahrschule",
    "Pflegedienst",
    "Zahntechnik",
    "Optik",
    "Hörgeräte",
    "Steuerberatung",
    "Versicherungsmakler",
    "Finanzberatung",
    "Energietechnik",
    "Solartechnik",
    "Windkraft",
    "Maschinenbau",
    "Werkzeugbau",
    "Kunststofftechnik",
    "Feinmechanik",
    "Elektronik",
    "Handel",
    "Großhandel",
    "Baustoffe",
    "Getränke",
    "Floristik",
    "Textil",
    "Mode",
    "Möbel",
    "Küchenstudio",
    "Fliesen",
    "Bodenbeläge",
    "Glaserei",
    "Schlosserei",
    "Recycling",
    "Entsorgung",
    "Sicherheitsdienst",
    "Personalservice",
    "Messebau",
    "Veranstaltungstechnik",
    "Fotografie",
    "Design",
    "Architektur",
    "Ingenieurbüro",
    "Vermessung",
    "Labortechnik",
    "Medizintechnik",
    "Biotechnik",
    "Antriebstechnik",
    "Lasertechnik",
};

static const char *const qualifiers[] = {
    "Nord",	  "Süd",	"Ost",	   "West",	    "Mitte",
    "Service",	  "Technik",	"Systeme", "Solutions",	    "Plus",
    "24",	  "Pro",	"Team",	   "Werk",	    "Center",
    "Zentrum",	  "Manufaktur", "Kontor",  "International", "Deutschland",
    "Rhein-Main", "Elbe",	"Weser",   "Ruhr",	    "Alpen",
    "Küste",	  "Ostsee",	"Nordsee", "Harz",	    "Spree",
};

static const char *const syllables[] = {
    "No",  "ra",   "vi",  "ta",	 "lu",	"me",  "ko",  "sa",  "ri",
    "te",  "al",   "ber", "ver", "den", "tis", "xa",  "zen", "lo",
    "mar", "quin", "sol", "tri", "via", "nex", "on",  "ora", "eli",
    "dal", "ma",   "is",  "ka",	 "ro",	"sen", "tec", "vo",  "ga",
};

static const char *const street_names[] = {
    "Haupt",
    "Bahnhof",
    "Schul",
    "Kirch",
    "Garten",
    "Markt",
    "Linden",
    "Berg",
    "Wald",
    "Feld",
    "Wiesen",
    "Mühlen",
    "Industrie",
    "Gewerbe",
    "Hafen",
    "Post",
    "Rosen",
    "Birken",
    "Eichen",
    "Buchen",
    "Ahorn",
    "Tannen",
    "Sonnen",
    "Schiller",
    "Goethe",
    "Lessing",
    "Mozart",
    "Beethoven",
    "Bismarck",
    "Kaiser",
    "König",
    "Friedrich",
    "Wilhelm",
    "Luisen",
    "Marien",
    "Karl",
    "Blumen",
    "Brunnen",
    "Dorf",
    "Fabrik",
    "Schloss",
    "Turm",
    "Hans-Böckler-",
    "Friedrich-Ebert-",
    "Konrad-Adenauer-",
    "Karl-Marx-",
    "Rudolf-Diesel-",
    "Otto-Hahn-",
    "Robert-Koch-",
    "Max-Planck-",
    "Albert-Schweitzer-",
    "Gottlieb-Daimler-",
    "Carl-Zeiss-",
    "Werner-von-Siemens-",
    "Heinrich-Heine-",
    "Geschwister-Scholl-",
};

/* street kinds: suffix for compound names, word for hyphenated ones */
static const struct {
	const char *compound, *word;
} street_kinds[] = {
    {"straße", "Straße"}, {"straße", "Straße"}, {"straße", "Straße"},
    {"straße", "Straße"}, {"weg", "Weg"},	{"allee", "Allee"},
    {"platz", "Platz"},	  {"ring", "Ring"},	{"damm", "Damm"},
    {"gasse", "Gasse"},
};

static const char *const sister_words[] = {
    "Holding",	     "Immobilien", "Service",  "Verwaltung",
    "Beteiligungen", "Logistik",   "Vertrieb", "Personal",
};

static const char *const club_words[] = {
    "Sportverein",  "Förderverein", "Heimatverein", "Kulturverein",
    "Bürgerverein", "Tennisclub",   "Gesangverein", "Kleingartenverein",
};

static const char *const coop_words[] = {
    "Raiffeisen-Warengenossenschaft", "Wohnungsbaugenossenschaft",
    "Energiegenossenschaft",	      "Einkaufsgenossenschaft",
    "Winzergenossenschaft",
};

static const char *const professions[] = {
    "Rechtsanwälte", "Steuerberater",	  "Architekten",
    "Ingenieure",    "Wirtschaftsprüfer", "Ärzte",
};

static const char *const freemail[] = {
    "gmx.de", "web.de", "t-online.de", "gmail.com", "outlook.de", "freenet.de",
};

static const char *const mailboxes[] = {
    "info", "info", "info", "kontakt", "office", "post", "mail", "buero",
};

/* ---- Länder: cities with postcode and register court ------------------- */

struct city {
	const char *name;
	uint32_t plz;	    /* base postcode */
	const char *court;  /* canonical register court name (ident table) */
	const char *suffix; /* register number suffix used by that court */
};

struct land_info {
	enum kt_land land;
	unsigned weight;    /* share of rows, per mille */
	const char *taxpre; /* federal tax number prefix */
	const struct city *cities;
	size_t n_cities;
};

#define CITIES(...) ((const struct city[]){__VA_ARGS__})
#define NC(...)                                                                \
	(sizeof((const struct city[]){__VA_ARGS__}) / sizeof(struct city))
#define LAND(l, w, pre, ...)                                                   \
	{                                                                      \
		l, w, pre, CITIES(__VA_ARGS__), NC(__VA_ARGS__)                \
	}

static const struct land_info lands[KT_LAND_COUNT] = {
    LAND(KT_LAND_BW, 130, "28", {"Stuttgart", 70173, "Stuttgart", ""},
	 {"Karlsruhe", 76133, "Mannheim", ""},
	 {"Mannheim", 68159, "Mannheim", ""},
	 {"Freiburg im Breisgau", 79098, "Freiburg i. Br.", ""},
	 {"Heidelberg", 69117, "Mannheim", ""}, {"Ulm", 89073, "Ulm", ""},
	 {"Heilbronn", 74072, "Stuttgart", ""},
	 {"Reutlingen", 72764, "Stuttgart", ""},
	 {"Konstanz", 78462, "Freiburg i. Br.", ""}),
    LAND(KT_LAND_BY, 160, "9", {"München", 80331, "München", ""},
	 {"Nürnberg", 90402, "Nürnberg", ""},
	 {"Augsburg", 86150, "Augsburg", ""},
	 {"Regensburg", 93047, "Regensburg", ""},
	 {"Würzburg", 97070, "Würzburg", ""},
	 {"Ingolstadt", 85049, "Ingolstadt", ""}, {"Fürth", 90762, "Fürth", ""},
	 {"Bamberg", 96047, "Bamberg", ""}, {"Passau", 94032, "Passau", ""},
	 {"Rosenheim", 83022, "Traunstein", ""},
	 {"Landshut", 84028, "Landshut", ""}),
    LAND(KT_LAND_BE, 45, "11",
	 {"Berlin", 10115, "Charlottenburg (Berlin)", "B"},
	 {"Berlin", 10178, "Charlottenburg (Berlin)", "B"},
	 {"Berlin", 10585, "Charlottenburg (Berlin)", "B"},
	 {"Berlin", 12043, "Charlottenburg (Berlin)", "B"},
	 {"Berlin", 13353, "Charlottenburg (Berlin)", "B"},
	 {"Berlin", 14195, "Charlottenburg (Berlin)", "B"}),
    LAND(KT_LAND_BB, 30, "30", {"Potsdam", 14467, "Potsdam", ""},
	 {"Cottbus", 3046, "Cottbus", ""},
	 {"Brandenburg an der Havel", 14770, "Potsdam", ""},
	 {"Frankfurt (Oder)", 15230, "Frankfurt (Oder)", ""},
	 {"Oranienburg", 16515, "Neuruppin", ""},
	 {"Senftenberg", 1968, "Cottbus", ""},
	 {"Eberswalde", 16225, "Frankfurt (Oder)", ""}),
    LAND(KT_LAND_HB, 8, "24", {"Bremen", 28195, "Bremen", "HB"},
	 {"Bremen", 28359, "Bremen", "HB"},
	 {"Bremerhaven", 27568, "Bremen", "HB"}),
    LAND(KT_LAND_HH, 23, "22", {"Hamburg", 20095, "Hamburg", ""},
	 {"Hamburg", 20354, "Hamburg", ""}, {"Hamburg", 22041, "Hamburg", ""},
	 {"Hamburg", 22767, "Hamburg", ""}, {"Hamburg", 21073, "Hamburg", ""}),
    LAND(KT_LAND_HE, 75, "26",
	 {"Frankfurt am Main", 60311, "Frankfurt am Main", ""},
	 {"Wiesbaden", 65183, "Wiesbaden", ""}, {"Kassel", 34117, "Kassel", ""},
	 {"Darmstadt", 64283, "Darmstadt", ""},
	 {"Offenbach am Main", 63065, "Offenbach am Main", ""},
	 {"Gießen", 35390, "Gießen", ""}, {"Fulda", 36037, "Fulda", ""},
	 {"Marburg", 35037, "Marburg", ""}, {"Hanau", 63450, "Hanau", ""}),
    LAND(KT_LAND_MV, 19, "40", {"Rostock", 18055, "Rostock", ""},
	 {"Schwerin", 19053, "Schwerin", ""},
	 {"Neubrandenburg", 17033, "Neubrandenburg", ""},
	 {"Stralsund", 18439, "Stralsund", ""},
	 {"Greifswald", 17489, "Stralsund", ""},
	 {"Wismar", 23966, "Schwerin", ""}),
    LAND(KT_LAND_NI, 90, "23", {"Hannover", 30159, "Hannover", ""},
	 {"Braunschweig", 38100, "Braunschweig", ""},
	 {"Oldenburg", 26122, "Oldenburg (Oldenburg)", ""},
	 {"Osnabrück", 49074, "Osnabrück", ""},
	 {"Göttingen", 37073, "Göttingen", ""},
	 {"Lüneburg", 21335, "Lüneburg", ""},
	 {"Hildesheim", 31134, "Hildesheim", ""},
	 {"Wolfsburg", 38440, "Braunschweig", ""},
	 {"Emden", 26721, "Aurich", ""}, {"Stade", 21682, "Stade", ""}),
    LAND(KT_LAND_NW, 210, "5", {"Köln", 50667, "Köln", ""},
	 {"Düsseldorf", 40213, "Düsseldorf", ""},
	 {"Dortmund", 44135, "Dortmund", ""}, {"Essen", 45127, "Essen", ""},
	 {"Duisburg", 47051, "Duisburg", ""}, {"Bochum", 44787, "Bochum", ""},
	 {"Wuppertal", 42103, "Wuppertal", ""},
	 {"Bielefeld", 33602, "Bielefeld", ""}, {"Bonn", 53111, "Bonn", ""},
	 {"Münster", 48143, "Münster", ""}, {"Aachen", 52062, "Aachen", ""},
	 {"Mönchengladbach", 41061, "Mönchengladbach", ""},
	 {"Gelsenkirchen", 45879, "Gelsenkirchen", ""},
	 {"Krefeld", 47798, "Krefeld", ""},
	 {"Paderborn", 33098, "Paderborn", ""},
	 {"Siegen", 57072, "Siegen", ""}),
    LAND(KT_LAND_RP, 50, "27", {"Mainz", 55116, "Mainz", ""},
	 {"Koblenz", 56068, "Koblenz", ""}, {"Trier", 54290, "Wittlich", ""},
	 {"Ludwigshafen am Rhein", 67059, "Ludwigshafen am Rhein", ""},
	 {"Kaiserslautern", 67655, "Kaiserslautern", ""},
	 {"Landau in der Pfalz", 76829, "Landau in der Pfalz", ""},
	 {"Bad Kreuznach", 55543, "Bad Kreuznach", ""}),
    LAND(KT_LAND_SL, 12, "10", {"Saarbrücken", 66111, "Saarbrücken", ""},
	 {"Neunkirchen", 66538, "Saarbrücken", ""},
	 {"Homburg", 66424, "Saarbrücken", ""},
	 {"Saarlouis", 66740, "Saarbrücken", ""}),
    LAND(KT_LAND_SN, 50, "32", {"Dresden", 1067, "Dresden", ""},
	 {"Leipzig", 4109, "Leipzig", ""}, {"Chemnitz", 9111, "Chemnitz", ""},
	 {"Zwickau", 8056, "Chemnitz", ""}, {"Görlitz", 2826, "Dresden", ""},
	 {"Plauen", 8523, "Chemnitz", ""}, {"Bautzen", 2625, "Dresden", ""},
	 {"Freiberg", 9599, "Chemnitz", ""}),
    LAND(KT_LAND_ST, 26, "31", {"Magdeburg", 39104, "Stendal", ""},
	 {"Halle (Saale)", 6108, "Stendal", ""},
	 {"Dessau-Roßlau", 6844, "Stendal", ""},
	 {"Wittenberg", 6886, "Stendal", ""}, {"Stendal", 39576, "Stendal", ""},
	 {"Halberstadt", 38820, "Stendal", ""}),
    LAND(KT_LAND_SH, 35, "21", {"Kiel", 24103, "Kiel", "KI"},
	 {"Lübeck", 23552, "Lübeck", "HL"},
	 {"Flensburg", 24937, "Flensburg", "FL"},
	 {"Pinneberg", 25421, "Pinneberg", "PI"},
	 {"Neumünster", 24534, "Kiel", "KI"},
	 {"Itzehoe", 25524, "Pinneberg", "IZ"},
	 {"Elmshorn", 25335, "Pinneberg", "PI"}),
    LAND(KT_LAND_TH, 26, "41", {"Erfurt", 99084, "Jena", ""},
	 {"Jena", 7743, "Jena", ""}, {"Gera", 7545, "Jena", ""},
	 {"Weimar", 99423, "Jena", ""}, {"Gotha", 99867, "Jena", ""},
	 {"Eisenach", 99817, "Jena", ""}, {"Suhl", 98527, "Jena", ""}),
};

static const struct land_info *land_info(enum kt_land l)
{
	return &lands[l - 1];
}

/* ---- layouts ------------------------------------------------------------- */

enum gf {
	G_ID,
	G_NAME,	     /* with legal form */
	G_NAME_NOLF, /* without; the form goes to G_LF */
	G_LF,
	G_STREET_FULL, /* street and number */
	G_STREET,
	G_HN,
	G_PLZ,
	G_CITY,
	G_ADDR_LINE,
	G_VAT,
	G_TAX,
	G_REG,
	G_REG_COURT,
	G_REG_TYPE,
	G_REG_NO,
	G_WID,
	G_EMAIL,
	G_EMAILS, /* list */
	G_CNAME,
	G_CNAME_LF, /* "Last, First" */
	G_CFIRST,
	G_CLAST,
	G_CEMAIL,
	G_CVER,
	G_HASH,
	G_ROLE,
	G_DATE,
	G_PHONE,    /* ignored by the mapping */
	G_INTERNAL, /* ignored by the mapping */
	G__COUNT
};

enum js { JS_STR, JS_NUM, JS_BOOL, JS_ARRAY };

struct gcol {
	const char *name; /* header, or JSON path */
	enum gf g;
	enum js js;
};

enum date_fmt { D_DE, D_ISO, D_ISO_TIME, D_EPOCH, D_DE_TIME };
enum bool_fmt { B_JANEIN, B_10, B_TRUEFALSE, B_X, B_JN, B_JSON };
enum hash_style { H_BCRYPT, H_ARGON2, H_PBKDF2, H_SSHA, H_SHA512, H_MD5 };

struct glayout {
	enum kt_land land;
	int jsonl, header, bom, quote_all, crlf;
	enum kt_csv_encoding enc;
	char delim;
	int plz_numeric; /* 1: number (lost zero), 2: "1067.0" */
	int tax_federal;
	enum date_fmt date;
	enum bool_fmt boolf;
	enum hash_style hash;
	int roles;
	const char *id_fmt;
	unsigned id_start;
	const struct gcol *cols;
	size_t ncols;
};

#define COLS(...) ((const struct gcol[]){__VA_ARGS__})
#define NCOLS(...)                                                             \
	(sizeof((const struct gcol[]){__VA_ARGS__}) / sizeof(struct gcol))
#define L(...) COLS(__VA_ARGS__), NCOLS(__VA_ARGS__)

static const struct glayout layouts[KT_LAND_COUNT] = {
    {KT_LAND_BW, 0, 1, 0, 0, 1, KT_CSV_WINDOWS_1252, ';', 0, 0, D_DE, B_JANEIN,
     H_BCRYPT, 0, "BW%07u", 1000,
     L({"Kundennummer", G_ID, 0}, {"Firmenname", G_NAME, 0},
       {"Rechtsform", G_LF, 0}, {"Straße", G_STREET_FULL, 0}, {"PLZ", G_PLZ, 0},
       {"Ort", G_CITY, 0}, {"Telefon", G_PHONE, 0}, {"USt-IdNr", G_VAT, 0},
       {"Steuernummer", G_TAX, 0}, {"Handelsregister", G_REG, 0},
       {"E-Mail", G_EMAIL, 0}, {"Ansprechpartner", G_CNAME_LF, 0},
       {"E-Mail Ansprechpartner", G_CEMAIL, 0}, {"E-Mail bestätigt", G_CVER, 0},
       {"Passwort-Hash", G_HASH, 0}, {"Rolle", G_ROLE, 0},
       {"Bestätigt am", G_DATE, 0})},
    {KT_LAND_BY, 0, 1, 1, 0, 0, KT_CSV_UTF8, ';', 1, 0, D_ISO, B_10, H_ARGON2,
     1, "%u", 100000,
     L({"Konto-ID", G_ID, 0}, {"Firma", G_NAME_NOLF, 0},
       {"Rechtsform", G_LF, 0}, {"Strasse", G_STREET, 0}, {"Hausnr", G_HN, 0},
       {"PLZ", G_PLZ, 0}, {"Ort", G_CITY, 0}, {"UStIdNr", G_VAT, 0},
       {"StNr", G_TAX, 0}, {"Registergericht", G_REG_COURT, 0},
       {"Registerart", G_REG_TYPE, 0}, {"Registernummer", G_REG_NO, 0},
       {"Email", G_EMAIL, 0}, {"Vorname", G_CFIRST, 0},
       {"Nachname", G_CLAST, 0}, {"Kontakt-Email", G_CEMAIL, 0},
       {"verifiziert", G_CVER, 0}, {"pw_hash", G_HASH, 0}, {"rolle", G_ROLE, 0},
       {"letzte_bestaetigung", G_DATE, 0})},
    {KT_LAND_BE, 1, 0, 0, 0, 0, KT_CSV_UTF8, 0, 0, 1, D_ISO_TIME, B_JSON,
     H_BCRYPT, 4, "be-%06u", 1,
     L({"accountId", G_ID, 0}, {"company.name", G_NAME_NOLF, 0},
       {"company.legalForm", G_LF, 0}, {"address.street", G_STREET_FULL, 0},
       {"address.zip", G_PLZ, 0}, {"address.city", G_CITY, 0},
       {"identifiers.vatId", G_VAT, 0}, {"identifiers.taxNumber", G_TAX, 0},
       {"identifiers.register", G_REG, 0}, {"identifiers.wIdNr", G_WID, 0},
       {"emails", G_EMAILS, JS_ARRAY}, {"contact.name", G_CNAME, 0},
       {"contact.email", G_CEMAIL, 0},
       {"contact.emailVerified", G_CVER, JS_BOOL},
       {"contact.passwordHash", G_HASH, 0}, {"contact.role", G_ROLE, 0},
       {"confirmedAt", G_DATE, 0})},
    {KT_LAND_BB, 0, 1, 0, 1, 0, KT_CSV_UTF8, ',', 0, 1, D_ISO, B_TRUEFALSE,
     H_PBKDF2, 1, "%u", 5000,
     L({"id", G_ID, 0}, {"name", G_NAME, 0}, {"anschrift", G_ADDR_LINE, 0},
       {"ust_id", G_VAT, 0}, {"steuernummer", G_TAX, 0},
       {"handelsregister", G_REG, 0}, {"email", G_EMAIL, 0},
       {"kontakt", G_CNAME, 0}, {"kontakt_email", G_CEMAIL, 0},
       {"bestaetigt", G_CVER, 0}, {"hash", G_HASH, 0}, {"rolle", G_ROLE, 0},
       {"stand", G_DATE, 0})},
    {KT_LAND_HB, 0, 1, 0, 0, 1, KT_CSV_ISO_8859_1, ';', 1, 0, D_DE, B_JN, H_MD5,
     3, "HB-%05u", 1,
     L({"Nr", G_ID, 0}, {"Firma (inkl. Rechtsform)", G_NAME, 0},
       {"Straße und Hausnummer", G_STREET_FULL, 0}, {"PLZ", G_PLZ, 0},
       {"Ort", G_CITY, 0}, {"USt-ID", G_VAT, 0}, {"Steuer-Nr.", G_TAX, 0},
       {"Amtsgericht", G_REG_COURT, 0}, {"Register", G_REG_TYPE, 0},
       {"Reg.-Nr.", G_REG_NO, 0}, {"E-Mail", G_EMAIL, 0},
       {"Kontaktperson", G_CNAME, 0}, {"Kontakt E-Mail", G_CEMAIL, 0},
       {"E-Mail geprüft", G_CVER, 0}, {"Kennwort (Hash)", G_HASH, 0},
       {"Berechtigung", G_ROLE, 0}, {"Datum", G_DATE, 0})},
    {KT_LAND_HH, 1, 0, 0, 0, 0, KT_CSV_UTF8, 0, 1, 0, D_EPOCH, B_10, H_BCRYPT,
     0, "%u", 700000,
     L({"kontoId", G_ID, 0}, {"firmenname", G_NAME, 0},
       {"strasse", G_STREET, 0}, {"hausnummer", G_HN, 0},
       {"plz", G_PLZ, JS_NUM}, {"ort", G_CITY, 0}, {"ustIdNr", G_VAT, 0},
       {"steuernummer", G_TAX, 0}, {"hrGericht", G_REG_COURT, 0},
       {"hrArt", G_REG_TYPE, 0}, {"hrNummer", G_REG_NO, 0}, {"wIdNr", G_WID, 0},
       {"email", G_EMAIL, 0}, {"ansprechpartnerVorname", G_CFIRST, 0},
       {"ansprechpartnerNachname", G_CLAST, 0},
       {"ansprechpartnerEmail", G_CEMAIL, 0}, {"verifiziert", G_CVER, JS_NUM},
       {"hash", G_HASH, 0}, {"rolle", G_ROLE, 0},
       {"bestaetigt", G_DATE, JS_NUM})},
    {KT_LAND_HE, 0, 1, 0, 1, 1, KT_CSV_WINDOWS_1252, ',', 0, 0, D_DE, B_JANEIN,
     H_SSHA, 2, "%08u", 20000000,
     L({"Kunden-Nr.", G_ID, 0}, {"Unternehmen", G_NAME, 0},
       {"Rechtsform", G_LF, 0}, {"Adresse", G_ADDR_LINE, 0},
       {"USt-IdNr.", G_VAT, 0}, {"Steuernummer", G_TAX, 0},
       {"HR-Eintrag", G_REG, 0}, {"E-Mail", G_EMAIL, 0},
       {"Vorname", G_CFIRST, 0}, {"Nachname", G_CLAST, 0},
       {"E-Mail (Kontakt)", G_CEMAIL, 0}, {"bestätigt", G_CVER, 0},
       {"Passwort", G_HASH, 0}, {"Rolle", G_ROLE, 0},
       {"Letzte Bestätigung", G_DATE, 0})},
    {KT_LAND_MV, 0, 1, 0, 0, 0, KT_CSV_UTF8, '\t', 0, 0, D_DE_TIME, B_X,
     H_SHA512, 2, "MV%06u", 1,
     L({"Konto", G_ID, 0}, {"Firmierung", G_NAME, 0}, {"Straße", G_STREET, 0},
       {"Nr.", G_HN, 0}, {"PLZ", G_PLZ, 0}, {"Ort", G_CITY, 0},
       {"USt-IdNr", G_VAT, 0}, {"Steuernummer", G_TAX, 0},
       {"Registereintrag", G_REG, 0}, {"E-Mail", G_EMAIL, 0},
       {"Ansprechpartner", G_CNAME, 0}, {"E-Mail Ansprechpartner", G_CEMAIL, 0},
       {"verifiziert", G_CVER, 0}, {"Hash", G_HASH, 0}, {"Rolle", G_ROLE, 0},
       {"Geändert", G_DATE, 0}, {"Bemerkung", G_INTERNAL, 0})},
    {KT_LAND_NI, 0, 1, 0, 0, 1, KT_CSV_WINDOWS_1252, ';', 0, 0, D_DE, B_JANEIN,
     H_PBKDF2, 0, "NI-%06u", 1,
     L({"Benutzerkonto", G_ID, 0}, {"Name des Unternehmens", G_NAME_NOLF, 0},
       {"Rechtsform", G_LF, 0}, {"Straße", G_STREET_FULL, 0},
       {"Postleitzahl", G_PLZ, 0}, {"Ort", G_CITY, 0},
       {"Umsatzsteuer-ID", G_VAT, 0}, {"Steuernummer", G_TAX, 0},
       {"Handelsregister", G_REG, 0}, {"E-Mail-Adresse(n)", G_EMAILS, 0},
       {"Ansprechpartner", G_CNAME, 0}, {"E-Mail", G_CEMAIL, 0},
       {"Bestätigt", G_CVER, 0}, {"Passwort-Hash", G_HASH, 0},
       {"Rolle", G_ROLE, 0}, {"Datum der Bestätigung", G_DATE, 0})},
    {KT_LAND_NW, 0, 1, 1, 0, 0, KT_CSV_UTF8, ';', 0, 0, D_ISO, B_JANEIN,
     H_ARGON2, 3, "%09u", 1,
     L({"Kundennummer", G_ID, 0}, {"Firmenname", G_NAME, 0},
       {"Straße", G_STREET_FULL, 0}, {"PLZ", G_PLZ, 0}, {"Ort", G_CITY, 0},
       {"USt-IdNr", G_VAT, 0}, {"W-IdNr", G_WID, 0}, {"Steuernummer", G_TAX, 0},
       {"Handelsregister", G_REG, 0}, {"E-Mail", G_EMAIL, 0},
       {"Ansprechpartner", G_CNAME, 0}, {"E-Mail Ansprechpartner", G_CEMAIL, 0},
       {"E-Mail verifiziert", G_CVER, 0}, {"Passwort-Hash", G_HASH, 0},
       {"Rolle", G_ROLE, 0}, {"Bestätigungsdatum", G_DATE, 0})},
    {KT_LAND_RP, 0, 0, 0, 0, 0, KT_CSV_UTF8, '|', 0, 1, D_ISO, B_10, H_BCRYPT,
     1, "RP%07u", 1,
     L({"0", G_ID, 0}, {"1", G_NAME, 0}, {"2", G_STREET_FULL, 0},
       {"3", G_PLZ, 0}, {"4", G_CITY, 0}, {"5", G_VAT, 0}, {"6", G_TAX, 0},
       {"7", G_REG, 0}, {"8", G_EMAIL, 0}, {"9", G_CNAME, 0},
       {"10", G_CEMAIL, 0}, {"11", G_CVER, 0}, {"12", G_HASH, 0},
       {"13", G_ROLE, 0}, {"14", G_DATE, 0})},
    {KT_LAND_SL, 0, 1, 0, 0, 1, KT_CSV_ISO_8859_1, ',', 0, 0, D_DE, B_JANEIN,
     H_MD5, 0, "SL-%06u", 1,
     L({"Kennung", G_ID, 0}, {"Firma", G_NAME, 0},
       {"Anschrift", G_ADDR_LINE, 0}, {"USt-IdNr", G_VAT, 0},
       {"St.-Nr.", G_TAX, 0}, {"Handelsregister", G_REG, 0},
       {"E-Mail", G_EMAIL, 0}, {"Kontakt", G_CNAME_LF, 0},
       {"Kontakt-E-Mail", G_CEMAIL, 0}, {"geprüft", G_CVER, 0},
       {"Passwort", G_HASH, 0}, {"Rolle", G_ROLE, 0}, {"Stand", G_DATE, 0})},
    {KT_LAND_SN, 0, 1, 0, 0, 1, KT_CSV_WINDOWS_1252, ';', 1, 0, D_DE, B_JANEIN,
     H_SSHA, 3, "%07u", 1000000,
     L({"Kundennummer", G_ID, 0}, {"Firma", G_NAME, 0},
       {"Straße", G_STREET_FULL, 0}, {"PLZ", G_PLZ, 0}, {"Ort", G_CITY, 0},
       {"USt-IdNr.", G_VAT, 0}, {"Steuernummer", G_TAX, 0},
       {"Registergericht", G_REG_COURT, 0}, {"Registerart", G_REG_TYPE, 0},
       {"Registernummer", G_REG_NO, 0}, {"E-Mail", G_EMAIL, 0},
       {"Vorname", G_CFIRST, 0}, {"Name", G_CLAST, 0},
       {"E-Mail Ansprechpartner", G_CEMAIL, 0}, {"bestätigt", G_CVER, 0},
       {"Passworthash", G_HASH, 0}, {"Rolle", G_ROLE, 0},
       {"zuletzt bestätigt", G_DATE, 0})},
    {KT_LAND_ST, 0, 1, 0, 0, 0, KT_CSV_UTF8, ',', 2, 0, D_ISO, B_TRUEFALSE,
     H_PBKDF2, 4, "ST%06u", 1,
     L({"id", G_ID, 0}, {"firma", G_NAME, 0}, {"strasse", G_STREET, 0},
       {"hausnummer", G_HN, 0}, {"plz", G_PLZ, 0}, {"ort", G_CITY, 0},
       {"ust_idnr", G_VAT, 0}, {"steuernummer", G_TAX, 0},
       {"handelsregister", G_REG, 0}, {"email", G_EMAIL, 0},
       {"ansprechpartner", G_CNAME, 0}, {"ansprechpartner_email", G_CEMAIL, 0},
       {"email_bestaetigt", G_CVER, 0}, {"passwort_hash", G_HASH, 0},
       {"rolle", G_ROLE, 0}, {"bestaetigt_am", G_DATE, 0})},
    {KT_LAND_SH, 0, 1, 0, 0, 0, KT_CSV_UTF8, ';', 0, 0, D_DE, B_JANEIN,
     H_BCRYPT, 0, "SH-%07u", 1,
     L({"Kontonummer", G_ID, 0}, {"Firmenname", G_NAME, 0},
       {"Straße", G_STREET_FULL, 0}, {"PLZ", G_PLZ, 0}, {"Ort", G_CITY, 0},
       {"USt-IdNr", G_VAT, 0}, {"Steuernummer", G_TAX, 0},
       {"Registergericht und -nummer", G_REG, 0}, {"E-Mail", G_EMAIL, 0},
       {"Ansprechpartner", G_CNAME, 0}, {"E-Mail Ansprechpartner", G_CEMAIL, 0},
       {"verifiziert", G_CVER, 0}, {"Passwort-Hash", G_HASH, 0},
       {"Rolle", G_ROLE, 0}, {"Bestätigt am", G_DATE, 0})},
    {KT_LAND_TH, 0, 1, 0, 0, 1, KT_CSV_WINDOWS_1252, ';', 1, 0, D_DE, B_JN,
     H_SHA512, 2, "TH%06u", 1,
     L({"Kundennummer", G_ID, 0}, {"Firmenname", G_NAME, 0},
       {"Anschrift", G_ADDR_LINE, 0}, {"USt-IdNr", G_VAT, 0},
       {"Steuernummer", G_TAX, 0}, {"Handelsregister", G_REG, 0},
       {"E-Mail", G_EMAIL, 0}, {"Ansprechpartner", G_CNAME, 0},
       {"E-Mail Ansprechpartner", G_CEMAIL, 0}, {"bestätigt", G_CVER, 0},
       {"Passwort-Hash", G_HASH, 0}, {"Rolle", G_ROLE, 0},
       {"Bestätigt am", G_DATE, 0})},
};

static const enum kt_field gf_field[G__COUNT] = {
    [G_ID] = KT_FIELD_ACCOUNT_ID,
    [G_NAME] = KT_FIELD_NAME,
    [G_NAME_NOLF] = KT_FIELD_NAME,
    [G_LF] = KT_FIELD_LEGAL_FORM,
    [G_STREET_FULL] = KT_FIELD_STREET,
    [G_STREET] = KT_FIELD_STREET,
    [G_HN] = KT_FIELD_HOUSE_NUMBER,
    [G_PLZ] = KT_FIELD_POSTCODE,
    [G_CITY] = KT_FIELD_CITY,
    [G_ADDR_LINE] = KT_FIELD_ADDRESS_LINE,
    [G_VAT] = KT_FIELD_VAT_ID,
    [G_TAX] = KT_FIELD_TAX_NUMBER,
    [G_REG] = KT_FIELD_REGISTER,
    [G_REG_COURT] = KT_FIELD_REGISTER_COURT,
    [G_REG_TYPE] = KT_FIELD_REGISTER_TYPE,
    [G_REG_NO] = KT_FIELD_REGISTER_NUMBER,
    [G_WID] = KT_FIELD_W_IDNR,
    [G_EMAIL] = KT_FIELD_EMAIL,
    [G_EMAILS] = KT_FIELD_EMAIL,
    [G_CNAME] = KT_FIELD_CONTACT_NAME,
    [G_CNAME_LF] = KT_FIELD_CONTACT_NAME,
    [G_CFIRST] = KT_FIELD_CONTACT_FIRST_NAME,
    [G_CLAST] = KT_FIELD_CONTACT_LAST_NAME,
    [G_CEMAIL] = KT_FIELD_CONTACT_EMAIL,
    [G_CVER] = KT_FIELD_CONTACT_EMAIL_VERIFIED,
    [G_HASH] = KT_FIELD_CONTACT_PASSWORD_HASH,
    [G_ROLE] = KT_FIELD_CONTACT_ROLE,
    [G_DATE] = KT_FIELD_CONFIRMED_AT,
    [G_PHONE] = KT_FIELD_IGNORE,
    [G_INTERNAL] = KT_FIELD_IGNORE,
};

static const char *const role_sets[][3] = {
    {"Administrator", "Benutzer", NULL},
    {"admin", "user", NULL},
    {"Hauptnutzer", "Mitnutzer", NULL},
    {"Inhaber", "Bevollmächtigter", "Mitarbeiter"},
    {"owner", "member", NULL},
};

/* ---- legal forms: generated share and spellings ------------------------ */

static const struct {
	enum kt_lf lf;
	unsigned weight;   /* per mille of base entities */
	const char *sp[6]; /* spellings, the first the most common */
} lf_gen[] = {
    {KT_LF_GMBH,
     400,
     {"GmbH", "GmbH", "Gmbh", "G.m.b.H.", "GMBH",
      "Gesellschaft mit beschränkter Haftung"}},
    {KT_LF_GMBH_CO_KG,
     100,
     {"GmbH & Co. KG", "GmbH & Co KG", "GmbH u. Co. KG", "GmbH + Co. KG",
      "GmbH und Co. KG", "GmbH&Co.KG"}},
    {KT_LF_UG,
     70,
     {"UG (haftungsbeschränkt)", "UG (haftungsbeschränkt)",
      "UG (haftungsbeschraenkt)", "UG (hb)", "UG haftungsbeschränkt", "UG"}},
    {KT_LF_EK, 80, {"e.K.", "e.K.", "e. K.", "eK", "e.Kfm.", "e.Kfr."}},
    {KT_LF_EINZEL, 60, {""}},
    {KT_LF_GBR, 50, {"GbR"}},
    {KT_LF_KG, 30, {"KG", "KG", "Kommanditgesellschaft"}},
    {KT_LF_OHG, 20, {"OHG", "OHG", "oHG"}},
    {KT_LF_AG, 20, {"AG", "AG", "Aktiengesellschaft"}},
    {KT_LF_EV, 40, {"e.V.", "e.V.", "e. V.", "eV"}},
    {KT_LF_EG, 15, {"eG", "eG", "e.G."}},
    {KT_LF_PARTG,
     25,
     {"PartG mbB", "PartG mbB", "PartGmbB", "Partnerschaft mbB"}},
    {KT_LF_GGMBH, 10, {"gGmbH"}},
    {KT_LF_SE, 3, {"SE"}},
    {KT_LF_KGAA, 2, {"KGaA", "KGaA", "Kommanditgesellschaft auf Aktien"}},
    {KT_LF_STIFTUNG, 5, {"Stiftung"}},
    {KT_LF_KDOER, 2, {"KdöR"}},
    {KT_LF_AOER, 2, {"AöR"}},
    {KT_LF_LTD, 4, {"Ltd.", "Ltd.", "Limited"}},
};

static int lf_gen_index(enum kt_lf lf)
{
	for (size_t i = 0; i < COUNT(lf_gen); i++)
		if (lf_gen[i].lf == lf)
			return (int)i;
	return 0;
}

static size_t lf_n_spellings(int gi)
{
	size_t n = 0;

	while (n < 6 && lf_gen[gi].sp[n] != NULL)
		n++;
	return n;
}

/* ---- entities ------------------------------------------------------------ */

enum { REL_NONE, REL_PARTNER, REL_SISTER };

struct ent {
	uint32_t parent; /* index + 1 */
	uint8_t rel, home, lf, pat, city, acity, stype, astype, hnsuf, ahnsuf;
	uint8_t tld, mbox, qual, word, moved, widnr, cstyle, freemail, owner;
	uint16_t sur1, sur2, branch, fan1, fan2, fan3, street, astreet, hn, ahn;
	uint16_t plzoff, aplzoff, cfirst, clast, cfirst2, clast2;
	uint32_t vat; /* 8 digits, 0 = none */
	uint64_t tax, atax;
	uint32_t reg, areg;
};

struct app {
	uint32_t ent;
	uint32_t id;   /* account number */
	uint64_t seed; /* variation */
	uint8_t first; /* the entity's first, cleanest appearance */
	uint8_t kind;  /* REJ_* */
};

enum { REJ_NONE, REJ_NO_ID, REJ_NO_NAME, REJ_DUP_ID, REJ_STRUCT };

static uint32_t gen_vat(struct rng *r)
{
	return 10000000u + rbelow(r, 90000000u);
}

static uint64_t gen_tax(struct rng *r, enum kt_land l)
{
	const char *pre = land_info(l)->taxpre;
	uint64_t v = 0;
	size_t pl = strlen(pre);

	for (size_t i = 0; i < pl; i++)
		v = v * 10 + (uint64_t)(pre[i] - '0');
	for (size_t i = pl; i < 4; i++)
		v = v * 10 + rbelow(r, 10);
	v = v * 10; /* the fixed 0 */
	for (int i = 0; i < 8; i++)
		v = v * 10 + rbelow(r, 10);
	return v;
}

static int registered(enum kt_lf lf)
{
	return kt_norm_lf_register(lf)[0] != '\0' && lf != KT_LF_GBR;
}

static void gen_address(struct rng *r, struct ent *e, int alt)
{
	const struct land_info *li = land_info(e->home);
	uint8_t city = (uint8_t)rbelow(r, (uint32_t)li->n_cities);
	uint16_t street = (uint16_t)rbelow(r, COUNT(street_names));
	uint8_t st = (uint8_t)rbelow(r, COUNT(street_kinds));
	uint16_t hn = (uint16_t)(1 + rbelow(r, rchance(r, 0.7) ? 60 : 250));
	uint8_t suf = rchance(r, 0.12) ? (uint8_t)('a' + rbelow(r, 4)) : 0;
	uint16_t off = (uint16_t)rbelow(r, 40);

	if (!alt) {
		e->city = city, e->street = street, e->stype = st, e->hn = hn;
		e->hnsuf = suf, e->plzoff = off;
	} else {
		e->acity = city, e->astreet = street, e->astype = st;
		e->ahn = hn, e->ahnsuf = suf, e->aplzoff = off;
	}
}

static enum kt_land pick_land(struct rng *r)
{
	uint32_t x = rbelow(r, 1000), acc = 0;

	for (int i = 0; i < KT_LAND_COUNT; i++) {
		acc += lands[i].weight;
		if (x < acc)
			return lands[i].land;
	}
	return KT_LAND_NW;
}

static enum kt_lf pick_lf(struct rng *r)
{
	uint32_t total = 0, x, acc = 0;

	for (size_t i = 0; i < COUNT(lf_gen); i++)
		total += lf_gen[i].weight;
	x = rbelow(r, total);
	for (size_t i = 0; i < COUNT(lf_gen); i++) {
		acc += lf_gen[i].weight;
		if (x < acc)
			return lf_gen[i].lf;
	}
	return KT_LF_GMBH;
}

static void gen_entity(struct rng *r, struct ent *e)
{
	memset(e, 0, sizeof(*e));
	e->home = (uint8_t)pick_land(r);
	e->lf = (uint8_t)pick_lf(r);
	e->pat = (uint8_t)rbelow(r, 6);
	e->sur1 = (uint16_t)rbelow(r, COUNT(surnames));
	e->sur2 = (uint16_t)rbelow(r, COUNT(surnames));
	if (e->sur2 == e->sur1)
		e->sur2 = (uint16_t)((e->sur2 + 1) % COUNT(surnames));
	e->branch = (uint16_t)rbelow(r, COUNT(branches));
	e->qual = (uint8_t)rbelow(r, COUNT(qualifiers));
	e->fan1 = (uint16_t)rbelow(r, COUNT(syllables));
	e->fan2 = (uint16_t)rbelow(r, COUNT(syllables));
	e->fan3 = (uint16_t)rbelow(r, COUNT(syllables));
	e->word = (uint8_t)rbelow(r, 8);
	gen_address(r, e, 0);
	e->moved = rchance(r, 0.15);
	if (e->moved)
		gen_address(r, e, 1);
	e->tld = (uint8_t)(rchance(r, 0.9) ? 0 : 1 + rbelow(r, 2));
	e->mbox = (uint8_t)rbelow(r, COUNT(mailboxes));
	e->cstyle = (uint8_t)(rchance(r, 0.75) ? 0 : rchance(r, 0.5) ? 1 : 2);
	e->freemail = (uint8_t)rbelow(r, COUNT(freemail));
	e->cfirst = (uint16_t)rbelow(r, COUNT(firstnames));
	e->clast = (uint16_t)rbelow(r, COUNT(surnames));
	e->cfirst2 = (uint16_t)rbelow(r, COUNT(firstnames));
	e->clast2 = (uint16_t)rbelow(r, COUNT(surnames));
	e->owner = rchance(r, 0.3);
	{
		double pv = e->lf == KT_LF_EV	    ? 0.2
			    : e->lf == KT_LF_EINZEL ? 0.5
			    : e->lf == KT_LF_GBR    ? 0.6
						    : 0.85;
		e->vat = rchance(r, pv) ? gen_vat(r) : 0;
	}
	e->widnr = e->vat != 0 && rchance(r, 0.05);
	e->tax = rchance(r, 0.85) ? gen_tax(r, e->home) : 0;
	if (registered(e->lf) || (e->lf == KT_LF_GBR && rchance(r, 0.1)))
		e->reg = 100 + rbelow(r, rchance(r, 0.5) ? 20000 : 250000);
	if (e->moved) {
		const struct land_info *li = land_info(e->home);
		int new_court = strcmp(li->cities[e->city].court,
				       li->cities[e->acity].court) != 0;
		/* a new seat district: new register number, new Finanzamt */
		e->areg =
		    e->reg && new_court ? 100 + rbelow(r, 250000) : e->reg;
		e->atax = e->tax && e->acity != e->city ? gen_tax(r, e->home)
							: e->tax;
	}
}

/*
 * Identifiers are unique, as in reality: one VAT id, one tax number, one
 * register number at a court per company. Drawn at random they collide
 * (a million companies in a space of 10^8 VAT ids share about two
 * thousand), and a collision is a pair of different companies with an
 * equal valid identifier, which no matcher can tell apart and the truth
 * calls a false merge. So after drawing, later holders of a taken value
 * move to the next free one, in entity order (deterministic).
 */
struct u64set {
	uint64_t *slot; /* key + 1; 0 = empty */
	size_t mask;
};

static int u64set_init(struct u64set *s, size_t n)
{
	size_t cap = 1024;

	while (cap < 2 * n)
		cap *= 2;
	s->mask = cap - 1;
	s->slot = calloc(cap, sizeof(*s->slot));
	return s->slot ? KT_OK : KT_ERR_NOMEM;
}

/* 1 if key was added, 0 if it was there. */
static int u64set_add(struct u64set *s, uint64_t key)
{
	size_t i = (size_t)(mix(key, 0x756e69717565ull) & s->mask);

	while (s->slot[i] != 0) {
		if (s->slot[i] == key + 1)
			return 0;
		i = (i + 1) & s->mask;
	}
	s->slot[i] = key + 1;
	return 1;
}

static uint64_t court_key(const struct ent *e, int alt)
{
	const char *c =
	    land_info(e->home)->cities[alt ? e->acity : e->city].court;
	uint64_t h = 1469598103934665603ull;

	for (; *c; c++)
		h = (h ^ (unsigned char)*c) * 1099511628211ull;
	return h << 32;
}

static uint64_t next_tax(uint64_t t)
{
	/* FFFF0 + 8 digits: step within the 8 digits */
	uint64_t low = t % 100000000ull;

	return t - low + (low + 1) % 100000000ull;
}

static int unique_identifiers(struct ent *ents, size_t n)
{
	struct u64set vat = {0}, tax = {0}, reg = {0};
	int rc = KT_ERR_NOMEM;

	if (u64set_init(&vat, n) != KT_OK ||
	    u64set_init(&tax, 2 * n) != KT_OK ||
	    u64set_init(&reg, 2 * n) != KT_OK)
		goto cleanup;
	for (size_t i = 0; i < n; i++) {
		struct ent *e = &ents[i];
		int same_court =
		    !e->moved || court_key(e, 0) == court_key(e, 1);

		if (e->vat)
			while (!u64set_add(&vat, e->vat))
				e->vat = e->vat >= 99999999u ? 10000000u
							     : e->vat + 1;
		if (e->tax) {
			int same = e->moved && e->atax == e->tax;

			while (!u64set_add(&tax, e->tax))
				e->tax = next_tax(e->tax);
			if (same)
				e->atax = e->tax;
			else if (e->moved && e->atax)
				while (!u64set_add(&tax, e->atax))
					e->atax = next_tax(e->atax);
		}
		if (e->reg) {
			int same = e->moved && e->areg == e->reg && same_court;

			while (!u64set_add(&reg, court_key(e, 0) | e->reg))
				e->reg = e->reg >= 250099u ? 100u : e->reg + 1;
			if (same)
				e->areg = e->reg;
			else if (e->moved && e->areg)
				while (!u64set_add(&reg,
						   court_key(e, 1) | e->areg))
					e->areg = e->areg >= 250099u
						      ? 100u
						      : e->areg + 1;
		}
	}
	rc = KT_OK;
cleanup:
	free(vat.slot);
	free(tax.slot);
	free(reg.slot);
	return rc;
}

/* The partner (Verwaltungs-GmbH) or sister of e: same place, other entity. */
static void gen_related(struct rng *r, const struct ent *p, uint32_t pidx,
			int rel, struct ent *e)
{
	gen_entity(r, e);
	e->parent = pidx + 1;
	e->rel = (uint8_t)rel;
	e->home = p->home;
	e->lf =
	    rel == REL_PARTNER
		? KT_LF_GMBH
		: (uint8_t)(rchance(r, 0.8) ? KT_LF_GMBH : KT_LF_GMBH_CO_KG);
	e->pat = p->pat;
	e->sur1 = p->sur1, e->sur2 = p->sur2, e->branch = p->branch;
	e->qual = p->qual, e->fan1 = p->fan1, e->fan2 = p->fan2;
	e->fan3 = p->fan3;
	e->city = p->city, e->street = p->street, e->stype = p->stype;
	e->hn = p->hn, e->hnsuf = p->hnsuf, e->plzoff = p->plzoff;
	e->moved = 0;
	e->tld = p->tld;
	e->mbox = p->mbox;
	/* the same managing director often signs up both */
	if (rchance(r, 0.7)) {
		e->cfirst = p->cfirst, e->clast = p->clast;
		e->cstyle = p->cstyle, e->freemail = p->freemail;
	}
	e->vat = rel == REL_PARTNER && rchance(r, 0.5) ? 0 : gen_vat(r);
	e->widnr = 0;
	e->tax = gen_tax(r, e->home);
	e->reg = 100 + rbelow(r, 250000);
	if (e->reg == p->reg)
		e->reg++;
}

/* ---- text helpers ------------------------------------------------------- */

struct sb {
	char *p;
	size_t len, cap;
};

static void sb_add(struct sb *b, const char *s)
{
	size_t n = strlen(s);

	if (b->len + n + 1 > b->cap)
		n = b->cap > b->len + 1 ? b->cap - b->len - 1 : 0;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_fmt(struct sb *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sb_fmt(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->len + 1 >= b->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->len += (size_t)n < b->cap - b->len ? (size_t)n
						      : b->cap - b->len - 1;
}

#define SB(buf) ((struct sb){(buf), 0, sizeof(buf)})

/* Umlaut spelling: 1 = ä -> ae, 2 = ä -> a (dropped); ß -> ss in both. */
static void umlauts(const char *in, char *out, size_t cap, int mode)
{
	static const struct {
		const char *u, *ae, *a;
	} t[] = {
	    {"ä", "ae", "a"},  {"ö", "oe", "o"}, {"ü", "ue", "u"},
	    {"Ä", "Ae", "A"},  {"Ö", "Oe", "O"}, {"Ü", "Ue", "U"},
	    {"ß", "ss", "ss"},
	};
	size_t w = 0;

	while (*in && w + 3 < cap) {
		size_t k;
		for (k = 0; k < COUNT(t); k++)
			if (strncmp(in, t[k].u, strlen(t[k].u)) == 0)
				break;
		if (k < COUNT(t)) {
			const char *rep = mode == 1 ? t[k].ae : t[k].a;
			size_t rl = strlen(rep);
			memcpy(out + w, rep, rl);
			w += rl;
			in += strlen(t[k].u);
		} else {
			out[w++] = *in++;
		}
	}
	out[w] = '\0';
}

/* ALL CAPS as legacy systems write it: ä -> Ä, ß -> SS. */
static void caps(const char *in, char *out, size_t cap)
{
	size_t w = 0;

	while (*in && w + 3 < cap) {
		unsigned char c = (unsigned char)*in;
		if (c >= 'a' && c <= 'z') {
			out[w++] = (char)(c - 32);
			in++;
		} else if (c == 0xc3 && (unsigned char)in[1] == 0x9f) {
			out[w++] = 'S';
			out[w++] = 'S';
			in += 2;
		} else if (c == 0xc3 && (unsigned char)in[1] >= 0xa0 &&
			   (unsigned char)in[1] <= 0xbe &&
			   (unsigned char)in[1] != 0xb7) {
			out[w++] = (char)0xc3;
			out[w++] = (char)(in[1] - 0x20);
			in += 2;
		} else {
			out[w++] = *in++;
		}
	}
	out[w] = '\0';
}

/* One typing error in the ASCII letters of s (in place). */
static void typo(struct rng *r, char *s)
{
	size_t n = strlen(s), pos[256], np = 0;

	for (size_t i = 1; i < n && np < 256; i++)
		if ((s[i] >= 'a' && s[i] <= 'z'))
			pos[np++] = i;
	if (np == 0)
		return;
	{
		size_t i = pos[rbelow(r, (uint32_t)np)];
		switch (rbelow(r, 4)) {
		case 0: /* delete */
			memmove(s + i, s + i + 1, n - i);
			break;
		case 1: /* double */
			if (n + 2 < 256) {
				memmove(s + i + 1, s + i, n - i + 1);
			}
			break;
		case 2: /* swap with the next letter */
			if (i + 1 < n && s[i + 1] >= 'a' && s[i + 1] <= 'z') {
				char c = s[i];
				s[i] = s[i + 1];
				s[i + 1] = c;
			}
			break;
		default: /* substitute */
			s[i] = (char)('a' + rbelow(r, 26));
		}
	}
}

/* "mueller-bau": the name folded into a domain label. */
static void slug(const char *name, char *out, size_t cap)
{
	char f[256];
	size_t w = 0;

	if (kt_norm_fold(name, strlen(name), f, sizeof(f), 0) != KT_OK)
		f[0] = '\0';
	for (size_t i = 0; f[i] && w + 1 < cap && w < 30; i++) {
		char c = f[i];
		if (c == ' ')
			c = '-';
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			continue;
		out[w++] = c;
	}
	while (w > 0 && out[w - 1] == '-')
		w--;
	out[w] = '\0';
	if (w == 0)
		snprintf(out, cap, "firma");
}

/* snprintf that truncates silently: generated text has known bounds and a
 * cut value is still a test value. */
static void sfmt(char *d, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void sfmt(char *d, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d, cap, fmt, ap);
	va_end(ap);
}

/* Copy with truncation (snprintf "%s" without the format warnings). */
static void scopy(char *d, size_t cap, const char *s)
{
	size_t n = strlen(s);

	if (n >= cap)
		n = cap - 1;
	memcpy(d, s, n);
	d[n] = '\0';
}

/* An account id from a layout's pattern "BW%07u": prefix, zero-padded
 * width, suffix. Our own tiny formatter: the pattern is data. */
static void fmt_id(const char *spec, unsigned v, char *out, size_t cap)
{
	const char *pct = strchr(spec, '%');
	char digits[24];
	int width = 0, n;
	size_t w = 0;

	if (pct == NULL) {
		scopy(out, cap, spec);
		return;
	}
	for (const char *p = pct + 1; *p >= '0' && *p <= '9'; p++)
		width = width * 10 + (*p - '0');
	n = snprintf(digits, sizeof(digits), "%u", v);
	for (const char *p = spec; p < pct && w + 1 < cap; p++)
		out[w++] = *p;
	for (int k = n; k < width && w + 1 < cap; k++)
		out[w++] = '0';
	for (int k = 0; k < n && w + 1 < cap; k++)
		out[w++] = digits[k];
	out[w] = '\0';
	{
		const char *after = strchr(pct, 'u');
		if (after != NULL)
			for (after++; *after && w + 1 < cap; after++)
				out[w++] = *after;
		out[w] = '\0';
	}
}

/* ---- names -------------------------------------------------------------- */

static void fantasy(const struct ent *e, char *out, size_t cap)
{
	char tmp[64];

	snprintf(tmp, sizeof(tmp), "%s%s%s", syllables[e->fan1],
		 syllables[e->fan2], syllables[e->fan3]);
	tmp[0] =
	    (tmp[0] >= 'a' && tmp[0] <= 'z') ? (char)(tmp[0] - 32) : tmp[0];
	for (size_t i = 1; tmp[i]; i++)
		if (tmp[i] >= 'A' && tmp[i] <= 'Z')
			tmp[i] = (char)(tmp[i] + 32);
	snprintf(out, cap, "%s", tmp);
}

/* The name without legal form, as the company calls itself. */
static void base_name(const struct ent *ents, const struct ent *e, char *out,
		      size_t cap)
{
	struct sb b = {out, 0, cap};
	const struct land_info *li = land_info(e->home);
	const char *city = li->cities[e->city].name;
	char fan[64];

	out[0] = '\0';
	if (e->rel != REL_NONE) {
		const struct ent *p = &ents[e->parent - 1];
		char pb[256];
		if (e->rel == REL_PARTNER) {
			base_name(ents, p, pb, sizeof(pb));
			sb_fmt(&b, "%s %s", pb,
			       e->word % 3 == 0 ? "Beteiligungs"
						: "Verwaltungs");
		} else {
			sb_fmt(&b, "%s %s", surnames[p->sur1],
			       sister_words[e->word]);
		}
		return;
	}
	fantasy(e, fan, sizeof(fan));
	switch (e->lf) {
	case KT_LF_EV:
		sb_fmt(&b, "%s %s", club_words[e->branch % COUNT(club_words)],
		       city);
		return;
	case KT_LF_EG:
		sb_fmt(&b, "%s %s", coop_words[e->branch % COUNT(coop_words)],
		       e->pat % 2 ? city : qualifiers[e->qual]);
		return;
	case KT_LF_PARTG:
		if (e->pat % 2)
			sb_fmt(&b, "%s %s & Partner", surnames[e->sur1],
			       professions[e->branch % COUNT(professions)]);
		else
			sb_fmt(&b, "%s %s %s", surnames[e->sur1],
			       surnames[e->sur2],
			       professions[e->branch % COUNT(professions)]);
		return;
	case KT_LF_STIFTUNG:
		sb_fmt(&b, "%s %s", surnames[e->sur1], fan);
		return;
	case KT_LF_KDOER:
		sb_fmt(&b, "Handwerkskammer %s %s", city, fan);
		return;
	case KT_LF_AOER:
		sb_fmt(&b, "Stadtwerke %s %s", city, fan);
		return;
	case KT_LF_GBR:
	case KT_LF_OHG:
		if (e->pat < 3) {
			sb_fmt(&b, "%s & %s %s", surnames[e->sur1],
			       surnames[e->sur2], branches[e->branch]);
			return;
		}
		break;
	default:
		break;
	}
	switch (e->pat) {
	case 0:
		sb_fmt(&b, "%s %s", surnames[e->sur1], branches[e->branch]);
		break;
	case 1:
		sb_fmt(&b, "%s %s %s", branches[e->branch], surnames[e->sur1],
		       qualifiers[e->qual]);
		break;
	case 2:
		sb_fmt(&b, "%s %s %s", surnames[e->sur1], branches[e->branch],
		       qualifiers[e->qual]);
		break;
	case 3:
		sb_fmt(&b, "%s %s", fan, branches[e->branch]);
		break;
	case 4:
		sb_fmt(&b, "%s %s %s", fan, branches[e->branch],
		       qualifiers[e->qual]);
		break;
	default:
		sb_fmt(&b, "%s %s %s", branches[e->branch], surnames[e->sur1],
		       fan);
	}
}

static void entity_domain(const struct ent *ents, const struct ent *e,
			  char *out, size_t cap)
{
	static const char *const tld[] = {"de", "com", "eu"};
	char b[256], s[64];

	while (e->rel != REL_NONE)
		e = &ents[e->parent - 1];
	base_name(ents, e, b, sizeof(b));
	slug(b, s, sizeof(s));
	snprintf(out, cap, "%s.%s", s, tld[e->tld]);
}

/* ---- a rendered row ------------------------------------------------------ */

struct gv {
	char v[G__COUNT][320];
	char emails[3][128];
	int n_emails;
	int cver;
	long long epoch;
	long plz_num;
};

static void fmt_date(const struct glayout *lay, long long t, char *out,
		     size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	switch (lay->date) {
	case D_DE:
		strftime(out, cap, "%d.%m.%Y", &tm);
		break;
	case D_DE_TIME:
		strftime(out, cap, "%d.%m.%Y %H:%M", &tm);
		break;
	case D_ISO:
		strftime(out, cap, "%Y-%m-%d", &tm);
		break;
	case D_ISO_TIME:
		strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
		break;
	case D_EPOCH:
		snprintf(out, cap, "%lld", t);
		break;
	}
}

static void fake_hash(struct rng *r, enum hash_style h, char *out, size_t cap)
{
	static const char b64[] =
	    "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	static const char std[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char a[128], b[128];
	size_t na = 22, nb = 31;
	const char *alpha = b64;

	switch (h) {
	case H_BCRYPT:
		na = 53;
		nb = 0;
		break;
	case H_ARGON2:
		na = 22;
		nb = 43;
		alpha = std;
		break;
	case H_PBKDF2:
		na = 22;
		nb = 44;
		alpha = std;
		break;
	case H_SSHA:
		na = 32;
		nb = 0;
		alpha = std;
		break;
	case H_SHA512:
		na = 16;
		nb = 86;
		break;
	case H_MD5:
		na = 32;
		nb = 0;
		alpha = "0123456789abcdef";
		break;
	}
	for (size_t i = 0; i < na; i++)
		a[i] = alpha[rbelow(r, (uint32_t)strlen(alpha))];
	a[na] = '\0';
	for (size_t i = 0; i < nb; i++)
		b[i] = alpha[rbelow(r, (uint32_t)strlen(alpha))];
	b[nb] = '\0';
	switch (h) {
	case H_BCRYPT:
		snprintf(out, cap, "$2y$10$%s", a);
		break;
	case H_ARGON2:
		snprintf(out, cap, "$argon2id$v=19$m=65536,t=3,p=4$%s$%s", a,
			 b);
		break;
	case H_PBKDF2:
		snprintf(out, cap, "pbkdf2_sha256$260000$%s$%s", a, b);
		break;
	case H_SSHA:
		snprintf(out, cap, "{SSHA}%s", a);
		break;
	case H_SHA512:
		snprintf(out, cap, "$6$rounds=5000$%s$%s", a, b);
		break;
	case H_MD5:
		snprintf(out, cap, "%s", a);
		break;
	}
}

static void court_variant(struct rng *r, const char *court, char *out,
			  size_t cap)
{
	static const struct {
		const char *court, *alt[3];
	} alts[] = {
	    {"Charlottenburg (Berlin)",
	     {"Charlottenburg", "Berlin (Charlottenburg)",
	      "Berlin-Charlottenburg"}},
	    {"Frankfurt am Main", {"Frankfurt a. M.", "Frankfurt/Main", NULL}},
	    {"Freiburg i. Br.", {"Freiburg im Breisgau", "Freiburg", NULL}},
	    {"Oldenburg (Oldenburg)", {"Oldenburg", NULL, NULL}},
	    {"Ludwigshafen am Rhein", {"Ludwigshafen", NULL, NULL}},
	    {"Landau in der Pfalz", {"Landau", NULL, NULL}},
	    {"Offenbach am Main", {"Offenbach", NULL, NULL}},
	    {"Frankfurt (Oder)", {"Frankfurt/Oder", NULL, NULL}},
	};

	snprintf(out, cap, "%s", court);
	if (!rchance(r, 0.4))
		return;
	for (size_t i = 0; i < COUNT(alts); i++)
		if (strcmp(alts[i].court, court) == 0) {
			size_t n = 0;
			while (n < 3 && alts[i].alt[n])
				n++;
			snprintf(out, cap, "%s",
				 alts[i].alt[rbelow(r, (uint32_t)n)]);
		}
}

/* Render every field of one appearance. */
static void render(const struct ent *ents, const struct app *a,
		   const struct glayout *lay, struct gv *g)
{
	const struct ent *e = &ents[a->ent];
	const struct land_info *li = land_info(e->home);
	struct rng r = {a->seed};
	int moved = e->moved && !a->first && rchance(&r, 0.6);
	const struct city *city = &li->cities[moved ? e->acity : e->city];
	uint32_t reg = moved ? e->areg : e->reg;
	uint64_t tax = moved ? e->atax : e->tax;
	double noise = a->first ? 0.4 : 1.0;
	int um = rchance(&r, 0.12 * noise)   ? 1
		 : rchance(&r, 0.06 * noise) ? 2
					     : 0;
	int upper = rchance(&r, 0.07 * noise);
	int gi = lf_gen_index((enum kt_lf)e->lf);
	char base[256], lfs[64], tmp[320], domain[96];
	struct sb b;

	memset(g, 0, sizeof(*g));
	/* name and legal form */
	base_name(ents, e, base, sizeof(base));
	if (rchance(&r, 0.06 * noise))
		typo(&r, base);
	if (rchance(&r, 0.1) && strstr(base, " & ") != NULL) {
		char *p = strstr(base, " & ");
		char rest[256];
		scopy(rest, sizeof(rest), p + 3);
		snprintf(p, sizeof(base) - (size_t)(p - base), " und %s", rest);
	}
	{
		size_t ns = lf_n_spellings(gi);
		/* most rows use the common spelling */
		size_t k = rchance(&r, 0.6 * (a->first ? 1.5 : 1.0))
			       ? 0
			       : rbelow(&r, (uint32_t)ns);
		scopy(lfs, sizeof(lfs), lf_gen[gi].sp[k]);
	}
	if (e->rel == REL_PARTNER)
		scopy(lfs, sizeof(lfs), rchance(&r, 0.5) ? "GmbH" : "GmbH");
	b = SB(tmp);
	sb_add(&b, base);
	if (lfs[0]) {
		/* "Verwaltungs-GmbH" is written with a hyphen */
		sb_add(&b,
		       e->rel == REL_PARTNER && rchance(&r, 0.7) ? "-" : " ");
		sb_add(&b, lfs);
	}
	if (e->lf == KT_LF_EK && e->owner)
		sb_fmt(&b, " Inh. %s %s", firstnames[e->cfirst],
		       surnames[e->sur1]);
	/* a name broken over two lines in the legacy form */
	if (!lay->jsonl && rchance(&r, 0.002)) {
		char *sp = strrchr(tmp, ' ');
		if (sp)
			*sp = '\n';
	}
	scopy(g->v[G_NAME], sizeof(g->v[0]), tmp);
	scopy(g->v[G_NAME_NOLF], sizeof(g->v[0]), base);
	if (e->lf == KT_LF_EK && e->owner)
		snprintf(g->v[G_NAME_NOLF], sizeof(g->v[0]), "%s Inh. %s %s",
			 base, firstnames[e->cfirst], surnames[e->sur1]);
	if (e->lf == KT_LF_EINZEL)
		scopy(g->v[G_LF], sizeof(g->v[0]),
		      rchance(&r, 0.5) ? "Einzelunternehmen" : "");
	else
		scopy(g->v[G_LF], sizeof(g->v[0]), lfs);
	if (um) {
		umlauts(g->v[G_NAME], tmp, sizeof(tmp), um);
		scopy(g->v[G_NAME], sizeof(g->v[0]), tmp);
		umlauts(g->v[G_NAME_NOLF], tmp, sizeof(tmp), um);
		scopy(g->v[G_NAME_NOLF], sizeof(g->v[0]), tmp);
	}
	if (upper) {
		caps(g->v[G_NAME], tmp, sizeof(tmp));
		scopy(g->v[G_NAME], sizeof(g->v[0]), tmp);
		caps(g->v[G_NAME_NOLF], tmp, sizeof(tmp));
		scopy(g->v[G_NAME_NOLF], sizeof(g->v[0]), tmp);
	}

	/* address */
	{
		uint16_t sn = moved ? e->astreet : e->street;
		uint8_t sk = moved ? e->astype : e->stype;
		uint16_t hn = moved ? e->ahn : e->hn;
		uint8_t hs = moved ? e->ahnsuf : e->hnsuf;
		uint32_t plz = city->plz + (moved ? e->aplzoff : e->plzoff);
		const char *nm = street_names[sn];
		int hyph = nm[strlen(nm) - 1] == '-';
		char street[400], hnum[32];
		int is_str = strcmp(street_kinds[sk].compound, "straße") == 0;
		uint32_t v = rbelow(&r, 100);

		if (is_str && v < 25)
			snprintf(street, sizeof(street), "%s%s", nm,
				 hyph ? "Str." : "str.");
		else if (is_str && v < 32)
			snprintf(street, sizeof(street), "%s%s", nm,
				 hyph ? "Strasse" : "strasse");
		else if (is_str && hyph && v < 40) {
			/* "Hans Böckler Straße": hyphens lost */
			char t2[400];
			size_t w = 0;
			for (const char *p = nm; *p && w + 2 < sizeof(t2); p++)
				t2[w++] = *p == '-' ? ' ' : *p;
			t2[w] = '\0';
			sfmt(street, sizeof(street), "%sStraße", t2);
		} else
			snprintf(street, sizeof(street), "%s%s", nm,
				 hyph ? street_kinds[sk].word
				      : street_kinds[sk].compound);
		if (um == 1) {
			umlauts(street, tmp, sizeof(tmp), 1);
			scopy(street, sizeof(street), tmp);
		}
		if (upper && rchance(&r, 0.5)) {
			caps(street, tmp, sizeof(tmp));
			scopy(street, sizeof(street), tmp);
		}
		if (hs)
			snprintf(hnum, sizeof(hnum), "%u%s%c", hn,
				 rchance(&r, 0.3) ? " " : "",
				 rchance(&r, 0.2) ? (char)(hs - 32) : (char)hs);
		else if (rchance(&r, 0.03))
			snprintf(hnum, sizeof(hnum), "%u%s%u", hn,
				 rchance(&r, 0.5) ? " - " : "-", hn + 2);
		else
			snprintf(hnum, sizeof(hnum), "%u", hn);
		scopy(g->v[G_STREET], sizeof(g->v[0]), street);
		scopy(g->v[G_HN], sizeof(g->v[0]), hnum);
		sfmt(g->v[G_STREET_FULL], sizeof(g->v[0]), "%s %s", street,
		     hnum);
		g->plz_num = (long)plz;
		if (lay->plz_numeric == 2)
			snprintf(g->v[G_PLZ], sizeof(g->v[0]), "%u.0", plz);
		else if (lay->plz_numeric == 1)
			snprintf(g->v[G_PLZ], sizeof(g->v[0]), "%u", plz);
		else
			snprintf(g->v[G_PLZ], sizeof(g->v[0]), "%05u", plz);
		if (strcmp(city->name, "Frankfurt am Main") == 0 &&
		    rchance(&r, 0.25))
			scopy(g->v[G_CITY], sizeof(g->v[0]),
			      rchance(&r, 0.5) ? "Frankfurt a. M."
					       : "Frankfurt/Main");
		else if (strcmp(city->name, "Freiburg im Breisgau") == 0 &&
			 rchance(&r, 0.3))
			snprintf(g->v[G_CITY], sizeof(g->v[0]),
				 "Freiburg i. Br.");
		else
			scopy(g->v[G_CITY], sizeof(g->v[0]), city->name);
		if (upper && rchance(&r, 0.5)) {
			caps(g->v[G_CITY], tmp, sizeof(tmp));
			scopy(g->v[G_CITY], sizeof(g->v[0]), tmp);
		}
		/* a one-line address keeps the exporter's postcode form */
		sfmt(g->v[G_ADDR_LINE], sizeof(g->v[0]), "%s %s%s%s %s", street,
		     hnum, rchance(&r, 0.8) ? ", " : " ", g->v[G_PLZ],
		     g->v[G_CITY]);
	}

	/* VAT id */
	if (e->vat && !rchance(&r, a->first ? 0.1 : 0.22)) {
		char d[16];
		snprintf(d, sizeof(d), "%08u", e->vat);
		d[8] = (char)('0' + kt_ident_vat_check_digit(d));
		d[9] = '\0';
		if (rchance(&r, 0.04)) {
			/* mistyped: any single-digit change breaks the check */
			int p = (int)rbelow(&r, 9);
			d[p] =
			    (char)('0' + (d[p] - '0' + 1 + rbelow(&r, 9)) % 10);
		}
		switch (rbelow(&r, 10)) {
		case 0:
		case 1:
			snprintf(g->v[G_VAT], sizeof(g->v[0]),
				 "DE %.3s %.3s %.3s", d, d + 3, d + 6);
			break;
		case 2:
			snprintf(g->v[G_VAT], sizeof(g->v[0]), "de%s", d);
			break;
		case 3:
			snprintf(g->v[G_VAT], sizeof(g->v[0]), "DE %s", d);
			break;
		default:
			snprintf(g->v[G_VAT], sizeof(g->v[0]), "DE%s", d);
		}
		if (e->widnr && rchance(&r, 0.7))
			snprintf(g->v[G_WID], sizeof(g->v[0]), "DE%s-00001", d);
	}
	/* tax number, in the Land's notation or federal */
	if (tax && !rchance(&r, a->first ? 0.15 : 0.3)) {
		char fed[24], land_form[24];
		snprintf(fed, sizeof(fed), "%013llu", (unsigned long long)tax);
		if (rchance(&r, 0.02)) {
			int p = 5 + (int)rbelow(&r, 8);
			fed[p] = (char)('0' + (fed[p] - '0' + 1) % 10);
		}
		if (lay->tax_federal ||
		    kt_ident_taxno_format_land(fed, land_form,
					       sizeof(land_form)) != KT_OK)
			scopy(g->v[G_TAX], sizeof(g->v[0]), fed);
		else
			scopy(g->v[G_TAX], sizeof(g->v[0]), land_form);
	}
	/* register */
	if (reg && !rchance(&r, a->first ? 0.08 : 0.15)) {
		enum kt_lf lf = (enum kt_lf)e->lf;
		const char *type = kt_norm_lf_register(lf);
		char court[96], num[32];
		int no_court = rchance(&r, 0.04);

		if (type[0] == '\0')
			type = "GsR";
		court_variant(&r, city->court, court, sizeof(court));
		snprintf(num, sizeof(num), "%u%s%s", reg,
			 city->suffix[0] ? " " : "", city->suffix);
		scopy(g->v[G_REG_TYPE], sizeof(g->v[0]), type);
		scopy(g->v[G_REG_NO], sizeof(g->v[0]), num);
		if (!no_court)
			snprintf(g->v[G_REG_COURT], sizeof(g->v[0]), "%s%s",
				 rchance(&r, 0.3)   ? "Amtsgericht "
				 : rchance(&r, 0.2) ? "AG "
						    : "",
				 court);
		if (no_court)
			snprintf(g->v[G_REG], sizeof(g->v[0]), "%s %s", type,
				 num);
		else
			switch (rbelow(&r, 7)) {
			case 0:
				snprintf(g->v[G_REG], sizeof(g->v[0]),
					 "Amtsgericht %s %s %s", court, type,
					 num);
				break;
			case 1:
				snprintf(g->v[G_REG], sizeof(g->v[0]),
					 "AG %s, %s %s", court, type, num);
				break;
			case 2:
				snprintf(g->v[G_REG], sizeof(g->v[0]),
					 "%s %s (AG %s)", type, num, court);
				break;
			case 3:
				snprintf(g->v[G_REG], sizeof(g->v[0]),
					 "Registergericht: Amtsgericht %s, "
					 "Registernummer: %s %s",
					 court, type, num);
				break;
			case 4:
				snprintf(g->v[G_REG], sizeof(g->v[0]),
					 "%s %s %s", court, type, num);
				break;
			default:
				snprintf(g->v[G_REG], sizeof(g->v[0]),
					 "%s %s, Amtsgericht %s", type, num,
					 court);
			}
		if (upper && rchance(&r, 0.3)) {
			caps(g->v[G_REG], tmp, sizeof(tmp));
			scopy(g->v[G_REG], sizeof(g->v[0]), tmp);
		}
	}
	/* e-mail: company and contact */
	entity_domain(ents, e, domain, sizeof(domain));
	if (!rchance(&r, 0.08)) {
		snprintf(g->emails[g->n_emails++], 128, "%s@%s",
			 e->rel == REL_PARTNER && rchance(&r, 0.3)
			     ? "verwaltung"
			     : mailboxes[e->mbox],
			 domain);
		if (rchance(&r, 0.1))
			snprintf(g->emails[g->n_emails++], 128,
				 "buchhaltung@%s", domain);
	}
	if (g->n_emails > 0)
		scopy(g->v[G_EMAIL], sizeof(g->v[0]), g->emails[0]);
	{
		b = SB(g->v[G_EMAILS]);
		for (int i = 0; i < g->n_emails; i++) {
			if (i)
				sb_add(&b, "; ");
			sb_add(&b, g->emails[i]);
		}
	}
	{
		int other = !a->first && rchance(&r, 0.25);
		const char *fn = firstnames[other ? e->cfirst2 : e->cfirst];
		const char *ln = surnames[other ? e->clast2 : e->clast];
		char ffn[64], fln[64];
		int style = other ? 0 : e->cstyle;

		scopy(g->v[G_CFIRST], sizeof(g->v[0]), fn);
		scopy(g->v[G_CLAST], sizeof(g->v[0]), ln);
		snprintf(g->v[G_CNAME], sizeof(g->v[0]), "%s%s %s",
			 rchance(&r, 0.05) ? "Dr. " : "", fn, ln);
		snprintf(g->v[G_CNAME_LF], sizeof(g->v[0]), "%s, %s", ln, fn);
		if (upper) {
			caps(g->v[G_CNAME], tmp, sizeof(tmp));
			scopy(g->v[G_CNAME], sizeof(g->v[0]), tmp);
		}
		slug(fn, ffn, sizeof(ffn));
		slug(ln, fln, sizeof(fln));
		if (style == 0)
			snprintf(g->v[G_CEMAIL], sizeof(g->v[0]), "%s.%s@%s",
				 ffn, fln, domain);
		else if (style == 1)
			snprintf(g->v[G_CEMAIL], sizeof(g->v[0]), "%c.%s@%s",
				 ffn[0], fln, domain);
		else
			snprintf(g->v[G_CEMAIL], sizeof(g->v[0]), "%s.%s%u@%s",
				 ffn, fln, (unsigned)(e->cfirst % 90 + 10),
				 freemail[e->freemail]);
		if (rchance(&r, 0.01)) {
			/* an address nobody can write to */
			char *at = strchr(g->v[G_CEMAIL], '@');
			if (at)
				memmove(at, at + 1, strlen(at));
		}
		g->cver = rchance(&r, 0.85);
	}
	switch (lay->boolf) {
	case B_JANEIN:
		scopy(g->v[G_CVER], sizeof(g->v[0]), g->cver ? "ja" : "nein");
		break;
	case B_10:
	case B_JSON:
		snprintf(g->v[G_CVER], sizeof(g->v[0]), "%d", g->cver);
		break;
	case B_TRUEFALSE:
		scopy(g->v[G_CVER], sizeof(g->v[0]),
		      g->cver ? "true" : "false");
		break;
	case B_X:
		scopy(g->v[G_CVER], sizeof(g->v[0]), g->cver ? "x" : "");
		break;
	case B_JN:
		scopy(g->v[G_CVER], sizeof(g->v[0]), g->cver ? "J" : "N");
		break;
	}
	fake_hash(&r, lay->hash, g->v[G_HASH], sizeof(g->v[0]));
	{
		const char *const *rs = role_sets[lay->roles];
		size_t n = rs[2] ? 3 : 2;
		scopy(g->v[G_ROLE], sizeof(g->v[0]),
		      rchance(&r, 0.7) ? rs[0] : rs[rbelow(&r, (uint32_t)n)]);
	}
	/* 2019-01-01 .. 2024-12-31 */
	g->epoch = 1546300800ll + (long long)rbelow(&r, 2191) * 86400 +
		   rbelow(&r, 86400);
	fmt_date(lay, g->epoch, g->v[G_DATE], sizeof(g->v[0]));
	snprintf(g->v[G_PHONE], sizeof(g->v[0]), "0%u %u",
		 300 + rbelow(&r, 600), 100000 + rbelow(&r, 899999));
	scopy(g->v[G_INTERNAL], sizeof(g->v[0]),
	      rchance(&r, 0.1) ? "Altkunde" : "");
	fmt_id(lay->id_fmt, lay->id_start + a->id, g->v[G_ID], sizeof(g->v[0]));

	switch (a->kind) {
	case REJ_NO_ID:
		scopy(g->v[G_ID], sizeof(g->v[0]),
		      rchance(&r, 0.5) ? "" : "  ");
		break;
	case REJ_NO_NAME:
		g->v[G_NAME][0] = g->v[G_NAME_NOLF][0] = '\0';
		break;
	default:
		break;
	}
}

/* ---- writers ------------------------------------------------------------- */

/* UTF-8 to a single-byte encoding; what it cannot hold becomes '?'. */
static void to_single(enum kt_csv_encoding enc, const char *in, char *out,
		      size_t cap)
{
	static const struct {
		uint32_t cp;
		unsigned char b;
	} w1252[] = {
	    {0x20ac, 0x80}, {0x201a, 0x82}, {0x0192, 0x83}, {0x201e, 0x84},
	    {0x2026, 0x85}, {0x2020, 0x86}, {0x2021, 0x87}, {0x02c6, 0x88},
	    {0x2030, 0x89}, {0x0160, 0x8a}, {0x2039, 0x8b}, {0x0152, 0x8c},
	    {0x017d, 0x8e}, {0x2018, 0x91}, {0x2019, 0x92}, {0x201c, 0x93},
	    {0x201d, 0x94}, {0x2022, 0x95}, {0x2013, 0x96}, {0x2014, 0x97},
	    {0x02dc, 0x98}, {0x2122, 0x99}, {0x0161, 0x9a}, {0x203a, 0x9b},
	    {0x0153, 0x9c}, {0x017e, 0x9e}, {0x0178, 0x9f},
	};
	const unsigned char *s = (const unsigned char *)in;
	size_t w = 0;

	while (*s && w + 1 < cap) {
		uint32_t cp;
		unsigned char c = *s;

		if (c < 0x80) {
			out[w++] = (char)c;
			s++;
			continue;
		}
		if ((c & 0xe0) == 0xc0 && s[1]) {
			cp = ((uint32_t)(c & 0x1f) << 6) | (s[1] & 0x3f);
			s += 2;
		} else if ((c & 0xf0) == 0xe0 && s[1] && s[2]) {
			cp = ((uint32_t)(c & 0x0f) << 12) |
			     ((uint32_t)(s[1] & 0x3f) << 6) | (s[2] & 0x3f);
			s += 3;
		} else {
			s++;
			while ((*s & 0xc0) == 0x80)
				s++;
			out[w++] = '?';
			continue;
		}
		if (cp >= 0xa0 && cp <= 0xff) {
			out[w++] = (char)cp;
			continue;
		}
		{
			unsigned char b = '?';
			if (enc == KT_CSV_WINDOWS_1252)
				for (size_t k = 0; k < COUNT(w1252); k++)
					if (w1252[k].cp == cp)
						b = w1252[k].b;
			out[w++] = (char)b;
		}
	}
	out[w] = '\0';
}

static void csv_put(FILE *f, const struct glayout *lay, const char *v)
{
	char conv[1024];
	const char *s = v;
	int q;

	if (lay->enc != KT_CSV_UTF8) {
		to_single(lay->enc, v, conv, sizeof(conv));
		s = conv;
	}
	q = lay->quote_all || strchr(s, lay->delim) || strchr(s, '"') ||
	    strchr(s, '\n') || strchr(s, '\r');
	if (!q) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void write_csv_header(FILE *f, const struct glayout *lay)
{
	if (lay->bom)
		fputs("\xef\xbb\xbf", f);
	if (!lay->header)
		return;
	for (size_t i = 0; i < lay->ncols; i++) {
		if (i)
			fputc(lay->delim, f);
		csv_put(f, lay, lay->cols[i].name);
	}
	fputs(lay->crlf ? "\r\n" : "\n", f);
}

static void write_csv_row(FILE *f, const struct glayout *lay,
			  const struct gv *g, int drop_last)
{
	size_t n = lay->ncols - (drop_last ? 1 : 0);

	for (size_t i = 0; i < n; i++) {
		const struct gcol *c = &lay->cols[i];
		if (i)
			fputc(lay->delim, f);
		csv_put(f, lay, c->g == G_EMAILS ? g->v[G_EMAILS] : g->v[c->g]);
	}
	fputs(lay->crlf ? "\r\n" : "\n", f);
}

/* obj at "a.b.c": create the objects on the way. */
static void json_set_path(json_t *root, const char *path, json_t *v)
{
	char key[128];
	const char *dot;
	json_t *o = root;

	while ((dot = strchr(path, '.')) != NULL) {
		json_t *next;
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		next = json_object_get(o, key);
		if (next == NULL) {
			next = json_object();
			json_object_set_new(o, key, next);
		}
		o = next;
		path = dot + 1;
	}
	json_object_set_new(o, path, v);
}

static int write_jsonl_row(FILE *f, const struct glayout *lay,
			   const struct gv *g, int struct_bad)
{
	json_t *o = json_object();
	int rc;

	if (o == NULL)
		return KT_ERR_NOMEM;
	for (size_t i = 0; i < lay->ncols; i++) {
		const struct gcol *c = &lay->cols[i];
		const char *v = g->v[c->g];
		json_t *jv = NULL;

		if (struct_bad && gf_field[c->g] == KT_FIELD_NAME) {
			/* a structure where text belongs */
			jv = json_pack("{s:s}", "text", v);
		} else if (c->js == JS_ARRAY) {
			jv = json_array();
			for (int k = 0; k < g->n_emails; k++)
				json_array_append_new(
				    jv, json_string(g->emails[k]));
		} else if (c->js == JS_BOOL) {
			jv = json_boolean(g->cver);
		} else if (c->js == JS_NUM) {
			if (c->g == G_PLZ)
				jv = json_integer(g->plz_num);
			else if (c->g == G_DATE)
				jv = json_integer(g->epoch);
			else
				jv = json_integer(g->cver);
		} else if (v[0] == '\0') {
			/* nested exports leave empty values out, flat ones
			 * write null */
			if (strchr(c->name, '.') == NULL)
				jv = json_null();
		} else {
			jv = json_string(v);
		}
		if (jv != NULL)
			json_set_path(o, c->name, jv);
	}
	rc = json_dumpf(o, f, JSON_COMPACT | JSON_PRESERVE_ORDER);
	fputc('\n', f);
	json_decref(o);
	return rc == 0 ? KT_OK : KT_ERR_IO;
}

static json_t *layout_mapping(const struct glayout *lay)
{
	struct kt_mapping m;
	struct kt_mapping_column cols[64];
	char src[32];
	json_t *j;

	memset(&m, 0, sizeof(m));
	snprintf(src, sizeof(src), "%s-unternehmenskonto",
		 kt_land_code(lay->land));
	for (char *p = src; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + 32);
	m.source = src;
	m.land = lay->land;
	m.format = lay->jsonl ? KT_MAPPING_JSONL : KT_MAPPING_CSV;
	m.encoding = lay->enc;
	m.delimiter = lay->delim;
	m.quote = '"';
	m.header = lay->header;
	for (size_t i = 0; i < lay->ncols; i++) {
		const struct gcol *c = &lay->cols[i];
		memset(&cols[i], 0, sizeof(cols[i]));
		cols[i].field = gf_field[c->g];
		cols[i].index = -1;
		if (!lay->jsonl && !lay->header) {
			cols[i].index = (int)i;
		} else {
			cols[i].column = (char *)c->name;
		}
		cols[i].numeric = c->g == G_PLZ && lay->plz_numeric;
	}
	m.columns = cols;
	m.n_columns = lay->ncols;
	j = kt_mapping_to_json(&m);
	return j;
}

/* ---- the run ------------------------------------------------------------- */

struct vec {
	struct app *a;
	size_t n, cap;
};

static int vec_push(struct vec *v, struct app a)
{
	struct app *na = kt_grow(v->a, &v->cap, v->n, sizeof(*na), 1024);

	if (na == NULL)
		return KT_ERR_NOMEM;
	v->a = na;
	v->a[v->n++] = a;
	return KT_OK;
}

static int mkdir_p(const char *dir, struct kt_error *err)
{
	char tmp[4096];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(tmp))
		return kt_error_set(err, KT_ERR_INVALID,
				    "bad output directory");
	memcpy(tmp, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			return kt_error_set(err, KT_ERR_IO, "%s: %s", tmp,
					    strerror(errno));
		tmp[i] = i < n ? '/' : '\0';
	}
	return KT_OK;
}

static FILE *open_out(const char *dir, const char *name, char *path, size_t cap,
		      struct kt_error *err)
{
	FILE *f;

	snprintf(path, cap, "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL)
		kt_error_set(err, KT_ERR_IO, "%s: %s", path, strerror(errno));
	return f;
}

static int close_out(FILE *f, const char *path, struct kt_error *err)
{
	if (fflush(f) != 0 || ferror(f)) {
		fclose(f);
		return kt_error_set(err, KT_ERR_IO, "%s: write failed", path);
	}
	if (fclose(f) != 0)
		return kt_error_set(err, KT_ERR_IO, "%s: %s", path,
				    strerror(errno));
	return KT_OK;
}

static void lower_code(enum kt_land l, char out[3])
{
	const char *c = kt_land_code(l);

	out[0] = (char)(c[0] + 32);
	out[1] = (char)(c[1] + 32);
	out[2] = '\0';
}

int kt_gen_run(const struct kt_gen_opts *o, struct kt_gen_summary *sum,
	       struct kt_error *err)
{
	struct ent *ents = NULL;
	size_t n_ents = 0, cap_ents = 0;
	struct vec per[KT_LAND_COUNT + 1];
	struct rng r;
	uint64_t target, apps = 0, done = 0;
	struct kt_progress *prog = NULL;
	FILE *truth = NULL, *f = NULL;
	char path[4200], truth_path[4200];
	json_t *manifest = NULL, *mlands = NULL;
	int64_t t0 = kt_mono_ms();
	int rc;

	memset(sum, 0, sizeof(*sum));
	memset(per, 0, sizeof(per));
	if (o->records < 16 || o->records > KT_GEN_MAX_RECORDS)
		return kt_error_set(err, KT_ERR_INVALID,
				    "--records must be between 16 and %llu",
				    KT_GEN_MAX_RECORDS);
	if (o->out_dir == NULL)
		return kt_error_set(err, KT_ERR_INVALID, "--out is required");
	if ((rc = mkdir_p(o->out_dir, err)) != KT_OK)
		return rc;

	/* 1 + 2: entities and their appearances */
	r.s = mix(o->seed, 0x6b6f6e746f72ull);
	{
		/* every Land gets each kind of bad row once, then about
		 * 0.4 % of the rows are meant to be rejected */
		uint64_t rej = 4 * KT_LAND_COUNT + o->records / 250;
		target =
		    o->records > rej + 16 ? o->records - rej : o->records / 2;
	}
	while (apps < target) {
		struct ent *e;
		uint32_t idx;
		int k = 0, nrel = 0;
		int ncross;

		if (n_ents + 4 > cap_ents) {
			size_t nc = cap_ents ? cap_ents * 2 : 4096;
			struct ent *ne = realloc(ents, nc * sizeof(*ne));
			if (ne == NULL) {
				rc = kt_error_set(err, KT_ERR_NOMEM,
						  "out of memory");
				goto cleanup;
			}
			ents = ne;
			cap_ents = nc;
		}
		idx = (uint32_t)n_ents;
		e = &ents[n_ents++];
		gen_entity(&r, e);
		/* traps: the Verwaltungs-GmbH of a GmbH & Co. KG, sisters */
		if (e->lf == KT_LF_GMBH_CO_KG && rchance(&r, 0.6)) {
			gen_related(&r, &ents[idx], idx, REL_PARTNER,
				    &ents[n_ents]);
			n_ents++;
			nrel++;
		}
		if (rchance(&r, 0.03)) {
			int ns = 1 + (int)rbelow(&r, 2);
			for (int s = 0; s < ns; s++) {
				gen_related(&r, &ents[idx], idx, REL_SISTER,
					    &ents[n_ents]);
				ents[n_ents].word =
				    (uint8_t)((ents[idx].word + 1 + s) % 8);
				n_ents++;
				nrel++;
			}
		}
		for (uint32_t ei = idx;
		     ei <= idx + (uint32_t)nrel && apps < target; ei++) {
			const struct ent *x = &ents[ei];
			int home = rchance(&r, 0.96);
			k = 0;
			if (home) {
				struct app a = {ei, 0, rnext(&r), 1, REJ_NONE};
				if (vec_push(&per[x->home], a) != KT_OK)
					goto oom;
				apps++;
				k++;
				if (rchance(&r, 0.05) && apps < target) {
					a.seed = rnext(&r);
					a.first = 0;
					if (vec_push(&per[x->home], a) != KT_OK)
						goto oom;
					apps++;
					k++;
				}
			}
			ncross = rchance(&r, 0.7)    ? 0
				 : rchance(&r, 0.65) ? 1
				 : rchance(&r, 0.7)  ? 2
						     : 3;
			if (k == 0 && ncross == 0)
				ncross = 1;
			for (int c = 0; c < ncross && apps < target; c++) {
				enum kt_land l = pick_land(&r);
				struct app a = {ei, 0, rnext(&r), k == 0,
						REJ_NONE};
				if (l == x->home)
					l = (enum kt_land)(l % KT_LAND_COUNT +
							   1);
				if (vec_push(&per[l], a) != KT_OK)
					goto oom;
				apps++;
				k++;
			}
		}
	}
	sum->entities = n_ents;
	if (unique_identifiers(ents, n_ents) != KT_OK)
		goto oom;

	/* 3: per Land order, account numbers, rows to reject */
	{
		uint64_t rej_total = o->records - apps, given = 0;
		uint64_t share[KT_LAND_COUNT + 1] = {0};
		int biggest = 1;

		uint64_t base = rej_total >= 4 * KT_LAND_COUNT ? 4 : 1;

		for (int l = 1; l <= KT_LAND_COUNT; l++) {
			share[l] = per[l].n ? base : 0;
			given += share[l];
			if (per[l].n > per[biggest].n)
				biggest = l;
		}
		if (given > rej_total)
			rej_total = given;
		for (int l = 1; l <= KT_LAND_COUNT; l++) {
			uint64_t extra =
			    apps ? (rej_total - given) * per[l].n / apps : 0;
			share[l] += extra;
		}
		{
			uint64_t s = 0;
			for (int l = 1; l <= KT_LAND_COUNT; l++)
				s += share[l];
			share[biggest] += rej_total - s;
		}
		for (int l = 1; l <= KT_LAND_COUNT; l++) {
			struct vec *v = &per[l];
			struct vec out = {0};
			size_t n0 = v->n;
			struct {
				size_t pos;
				struct app a;
			} *ins = NULL;
			size_t nins = 0;
			struct rng lr = {mix(o->seed, (uint64_t)l)};

			if (n0 == 0)
				continue;
			for (size_t i = n0; i > 1; i--) {
				size_t j = rbelow(&lr, (uint32_t)i);
				struct app t = v->a[i - 1];
				v->a[i - 1] = v->a[j];
				v->a[j] = t;
			}
			for (size_t i = 0; i < n0; i++)
				v->a[i].id = (uint32_t)i;
			if ((ins = calloc(share[l] + 1, sizeof(*ins))) == NULL)
				goto oom;
			for (uint64_t k = 0; k < share[l]; k++) {
				size_t src =
				    1 + rbelow(&lr,
					       (uint32_t)(n0 > 1 ? n0 - 1 : 1));
				struct app a;
				if (src >= n0)
					src = n0 - 1;
				a = v->a[src];
				a.first = 0;
				switch (k % 4) {
				case 0:
					a.kind = REJ_NO_ID;
					break;
				case 1:
					a.kind = REJ_NO_NAME;
					a.id = (uint32_t)(n0 + k);
					break;
				case 2:
					/* the same row again, later on */
					a.kind = REJ_DUP_ID;
					break;
				default:
					a.kind = REJ_STRUCT;
					a.id = (uint32_t)(n0 + k);
				}
				ins[nins].pos =
				    a.kind == REJ_DUP_ID
					? src + 1 + rbelow(&lr, 5)
					: 1 + rbelow(&lr, (uint32_t)n0);
				if (ins[nins].pos > n0)
					ins[nins].pos = n0;
				ins[nins].a = a;
				nins++;
			}
			/* merge: stable by position, so a duplicate always
			 * follows its original */
			for (size_t i = 1; i < nins; i++)
				for (size_t j = i;
				     j > 0 && ins[j - 1].pos > ins[j].pos;
				     j--) {
					__typeof__(ins[0]) t = ins[j];
					ins[j] = ins[j - 1];
					ins[j - 1] = t;
				}
			{
				size_t ii = 0;
				for (size_t i = 0; i <= n0; i++) {
					while (ii < nins && ins[ii].pos == i) {
						if (vec_push(&out, ins[ii].a) !=
						    KT_OK) {
							free(ins);
							goto oom;
						}
						ii++;
					}
					if (i < n0 &&
					    vec_push(&out, v->a[i]) != KT_OK) {
						free(ins);
						goto oom;
					}
				}
			}
			free(ins);
			free(v->a);
			*v = out;
			sum->rejects_by_land[l] = share[l];
			sum->expected_rejects += share[l];
		}
	}

	/* 4: render */
	if ((truth = open_out(o->out_dir, "truth.csv", truth_path,
			      sizeof(truth_path), err)) == NULL) {
		rc = KT_ERR_IO;
		goto cleanup;
	}
	fputs("record_id,entity_id\n", truth);
	manifest = json_object();
	mlands = json_object();
	prog = kt_progress_new(o->progress_out ? o->progress_out : stderr,
			       o->progress, "generate", "rows", o->records, 5);
	for (int l = 1; l <= KT_LAND_COUNT; l++) {
		const struct glayout *lay = &layouts[l - 1];
		struct vec *v = &per[l];
		char lc[3], fname[32];
		json_t *mj;

		lower_code((enum kt_land)l, lc);
		snprintf(fname, sizeof(fname), "%s.%s", lc,
			 lay->jsonl ? "jsonl" : "csv");
		if ((f = open_out(o->out_dir, fname, path, sizeof(path),
				  err)) == NULL) {
			rc = KT_ERR_IO;
			goto cleanup;
		}
		if (!lay->jsonl)
			write_csv_header(f, lay);
		for (size_t i = 0; i < v->n; i++) {
			struct gv g;
			const struct app *a = &v->a[i];

			render(ents, a, lay, &g);
			if (lay->jsonl) {
				if (write_jsonl_row(f, lay, &g,
						    a->kind == REJ_STRUCT) !=
				    KT_OK) {
					rc = kt_error_set(err, KT_ERR_IO,
							  "%s: write failed",
							  path);
					goto cleanup;
				}
			} else {
				write_csv_row(f, lay, &g,
					      a->kind == REJ_STRUCT);
			}
			if (a->kind == REJ_NONE)
				fprintf(truth, "%s:%s,E%07u\n",
					kt_land_code((enum kt_land)l),
					g.v[G_ID], a->ent);
			done++;
			kt_progress_update(prog, done, done);
		}
		sum->rows_by_land[l] = v->n;
		sum->rows += v->n;
		rc = close_out(f, path, err);
		f = NULL;
		if (rc != KT_OK)
			goto cleanup;

		/* the mapping file for this layout */
		snprintf(fname, sizeof(fname), "%s.mapping.json", lc);
		if ((f = open_out(o->out_dir, fname, path, sizeof(path),
				  err)) == NULL) {
			rc = KT_ERR_IO;
			goto cleanup;
		}
		mj = layout_mapping(lay);
		if (mj == NULL ||
		    json_dumpf(mj, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) !=
			0) {
			json_decref(mj);
			rc = kt_error_set(err, KT_ERR_IO, "%s: write failed",
					  path);
			goto cleanup;
		}
		fputc('\n', f);
		json_decref(mj);
		rc = close_out(f, path, err);
		f = NULL;
		if (rc != KT_OK)
			goto cleanup;
		{
			char dataf[32];
			snprintf(dataf, sizeof(dataf), "%s.%s", lc,
				 lay->jsonl ? "jsonl" : "csv");
			json_object_set_new(
			    mlands, kt_land_code((enum kt_land)l),
			    json_pack("{s:s,s:s,s:s,s:s,s:I,s:I}", "file",
				      dataf, "mapping", fname, "format",
				      lay->jsonl ? "jsonl" : "csv", "encoding",
				      kt_csv_encoding_name(lay->enc), "rows",
				      (json_int_t)v->n, "expected_rejects",
				      (json_int_t)sum->rejects_by_land[l]));
		}
	}
	kt_progress_finish(prog, done, done);
	rc = close_out(truth, truth_path, err);
	truth = NULL;
	if (rc != KT_OK)
		goto cleanup;

	json_object_set_new(manifest, "generator",
			    json_string("kontor-migrate"));
	json_object_set_new(manifest, "seed",
			    json_integer((json_int_t)o->seed));
	json_object_set_new(manifest, "records",
			    json_integer((json_int_t)sum->rows));
	json_object_set_new(manifest, "entities",
			    json_integer((json_int_t)sum->entities));
	json_object_set_new(manifest, "expected_rejects",
			    json_integer((json_int_t)sum->expected_rejects));
	json_object_set_new(
	    manifest, "expected_imported",
	    json_integer((json_int_t)(sum->rows - sum->expected_rejects)));
	json_object_set_new(manifest, "truth", json_string("truth.csv"));
	json_object_set_new(manifest, "lands", mlands);
	mlands = NULL;
	if ((f = open_out(o->out_dir, "manifest.json", path, sizeof(path),
			  err)) == NULL) {
		rc = KT_ERR_IO;
		goto cleanup;
	}
	if (json_dumpf(manifest, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) !=
	    0) {
		rc = kt_error_set(err, KT_ERR_IO, "%s: write failed", path);
		goto cleanup;
	}
	fputc('\n', f);
	rc = close_out(f, path, err);
	f = NULL;
	if (rc != KT_OK)
		goto cleanup;
	rc = KT_OK;
	goto cleanup;
oom:
	rc = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
cleanup:
	sum->seconds = (double)(kt_mono_ms() - t0) / 1000.0;
	if (f != NULL)
		fclose(f);
	if (truth != NULL)
		fclose(truth);
	json_decref(manifest);
	json_decref(mlands);
	kt_progress_free(prog);
	for (int l = 0; l <= KT_LAND_COUNT; l++)
		free(per[l].a);
	free(ents);
	return rc;
}
