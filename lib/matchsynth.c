#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kontor/matchsynth.h"
#include "kontor/util.h"

/*
 * Values are built already normalised (lower case, umlauts folded to
 * ae/oe/ue, legal form as a code, register as "court|type|number"), as the
 * importer will deliver them, so that what the tests measure is matching
 * and not normalisation.
 */

enum {
	F_NAME,
	F_LEGAL,
	F_VAT,
	F_TAXNO,
	F_REGISTER,
	F_POSTCODE,
	F_CITY,
	F_STREET,
	F_HOUSE,
	F_EMAIL,
	F_COUNT
};

static const char *const field_names[F_COUNT] = {
    "name_key", "legal_form", "vat",	"taxno",	"register",
    "postcode", "city",	      "street", "house_number", "email",
};

static const char *const surnames[] = {
    "mueller", "schmidt",    "schneider", "fischer",   "weber",	     "meyer",
    "wagner",  "becker",     "schulz",	  "hoffmann",  "schaefer",   "koch",
    "bauer",   "richter",    "klein",	  "wolf",      "schroeder",  "neumann",
    "schwarz", "zimmermann", "braun",	  "krueger",   "hofmann",    "hartmann",
    "lange",   "schmitt",    "werner",	  "schmitz",   "krause",     "meier",
    "lehmann", "schmid",     "schulze",	  "maier",     "koehler",    "herrmann",
    "koenig",  "walter",     "mayer",	  "huber",     "kaiser",     "fuchs",
    "peters",  "lang",	     "scholz",	  "moeller",   "weiss",	     "jung",
    "hahn",    "schubert",   "vogel",	  "friedrich", "keller",     "guenther",
    "frank",   "berger",     "winkler",	  "roth",      "beck",	     "lorenz",
    "baumann", "franke",     "albrecht",  "schuster",  "simon",	     "ludwig",
    "boehm",   "winter",     "kraus",	  "martin",    "schumacher", "kraemer",
    "vogt",    "stein",	     "jaeger",	  "otto",      "sommer",     "gross",
    "seidel",  "heinrich",   "brandt",	  "haas",      "schreiber",  "graf",
    "schulte", "dietrich",   "ziegler",	  "kuhn",      "kuehn",	     "pohl",
    "engel",   "horn",	     "busch",	  "bergmann",  "thomas",     "voigt",
    "sauer",   "arnold",     "wolff",	  "pfeiffer",
};

static const char *const business[] = {
    "bau",	   "technik",	 "service",  "handel",	      "logistik",
    "consulting",  "immobilien", "elektro",  "metall",	      "software",
    "systeme",	   "media",	 "design",   "transport",     "gastro",
    "reinigung",   "sanitaer",	 "holz",     "druck",	      "auto",
    "energie",	   "solar",	 "pflege",   "medizin",	      "optik",
    "finanz",	   "beratung",	 "montage",  "maschinenbau",  "kunststoff",
    "verpackung",  "spedition",	 "catering", "gebaeude",      "dach",
    "fenster",	   "heizung",	 "garten",   "landschaft",    "event",
    "werbung",	   "verlag",	 "steuer",   "recht",	      "dental",
    "physio",	   "tischlerei", "malerei",  "schlosserei",   "baeckerei",
    "fleischerei", "apotheke",	 "reisen",   "fahrschule",    "sicherheit",
    "it",	   "daten",	 "netzwerk", "kommunikation", "personal",
    "bildung",	   "akademie",	 "labor",    "umwelt",	      "recycling",
    "entsorgung",  "kfz",	 "reifen",   "motoren",	      "antriebe",
    "anlagenbau",  "stahlbau",	 "tiefbau",  "hochbau",	      "innenausbau",
    "fliesen",	   "parkett",	 "glas",     "textil",	      "mode",
};

static const char *const prefixes[] = {
    "alt",    "neu",	"ober",	  "unter", "gross", "klein",  "rot",
    "weiss",  "gruen",	"blau",	  "nord",  "sued",  "ost",    "west",
    "berg",   "tal",	"wald",	  "feld",  "see",   "stein",  "eichen",
    "linden", "birken", "sonnen", "stern", "adler", "loewen", "hirsch",
    "falken", "rosen",	"lilien", "mars",  "hansa", "rhein",  "elb",
    "main",   "donau",	"isar",	  "mosel", "ruhr",
};

static const char *const suffixes[] = {
    "berg",  "bach",	"feld",	  "haus",  "stein",  "wald", "brunn",
    "dorf",  "heim",	"hof",	  "burg",  "tal",    "au",   "werk",
    "tec",   "plan",	"form",	  "bau",   "tronic", "data", "line",
    "net",   "med",	"vision", "point", "markt",  "wert", "kraft",
    "licht", "blick",	"quelle", "hafen", "garten", "land", "stadt",
    "turm",  "bruecke", "mark",	  "stern", "fels",
};

static const char *const streets[] = {
    "haupt",	"bahnhof", "kirch",	"schul",   "garten",	"wald",
    "berg",	"linden",  "birken",	"eichen",  "rosen",	"goethe",
    "schiller", "mozart",  "beethoven", "bach",	   "industrie", "gewerbe",
    "markt",	"post",	   "friedhof",	"muehlen", "dorf",	"feld",
    "wiesen",	"sonnen",  "ring",	"park",	   "hafen",	"kanal",
    "bismarck", "kaiser",  "koenig",	"luisen",  "friedrich", "wilhelm",
    "karl",	"ludwig",  "heinrich",	"blumen",  "tannen",	"buchen",
};

static const char *const street_types[] = {"str",   "str",   "str",  "weg",
					   "platz", "allee", "ring", "gasse"};

static const char *const legal_forms[] = {
    "gmbh", "gmbh", "gmbh", "gmbh",	  "gmbh",	"gmbh", "gmbh", "gmbh",
    "gmbh", "ug",   "ug",   "gmbh_co_kg", "gmbh_co_kg", "kg",	"ag",	"ek",
    "ek",   "ek",   "ohg",  "gbr",	  "gbr",	"ev",	"eg",	"",
};

static const char *const locals[] = {"info",	"kontakt", "office",	"mail",
				     "service", "buero",   "verwaltung"};

#define NCITY 2000

struct rng {
	uint64_t s;
};

static uint64_t rnext(struct rng *r)
{
	uint64_t x = (r->s += 0x9e3779b97f4a7c15ull);

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static double unif(struct rng *r)
{
	return (double)(rnext(r) >> 11) * 0x1.0p-53;
}

static unsigned pick(struct rng *r, size_t n)
{
	return (unsigned)(rnext(r) % n);
}

#define PICK(r, arr) (arr[pick(r, sizeof(arr) / sizeof(arr[0]))])

struct gen {
	struct rng r;
	const struct kt_matchsynth_params *pp;
	int fidx[F_COUNT];
	char city[NCITY][32];
};

static int chance(struct gen *g, double p)
{
	p *= g->pp->noise;
	return unif(&g->r) < (p > 0.95 ? 0.95 : p);
}

int kt_matchsynth_vat_check(const char digits[8])
{
	int p = 10;

	for (int i = 0; i < 8; i++) {
		int s = (digits[i] - '0' + p) % 10;

		if (s == 0)
			s = 10;
		p = (2 * s) % 11;
	}
	return (11 - p) % 10; /* check 10 becomes 0 */
}

static int vat_valid(const char *v)
{
	if (strlen(v) != 11 || v[0] != 'D' || v[1] != 'E' ||
	    strspn(v + 2, "0123456789") != 9)
		return 0;
	return kt_matchsynth_vat_check(v + 2) == v[10] - '0';
}

struct ent {
	char f[F_COUNT][96];
	unsigned city;
};

static void make_city_names(struct gen *g)
{
	struct rng cr = {0x5eed}; /* the same towns for every seed */

	for (unsigned i = 0; i < NCITY; i++) {
		int n;

		do {
			n = snprintf(g->city[i], sizeof(g->city[i]), "%s%s",
				     PICK(&cr, prefixes), PICK(&cr, suffixes));
			/* A few towns have two words, "x am main". */
			if (i % 17 == 0)
				n = snprintf(g->city[i], sizeof(g->city[i]),
					     "%s%s am %s", PICK(&cr, prefixes),
					     PICK(&cr, suffixes),
					     PICK(&cr, prefixes));
		} while (n < 0 || (size_t)n >= sizeof(g->city[i]));
	}
}

/* Bigger towns first: a skewed pick gives realistic crowding. */
static unsigned pick_city(struct gen *g)
{
	double u = unif(&g->r);

	return (unsigned)(u * u * NCITY) % NCITY;
}

static void set_address(struct gen *g, struct ent *e, unsigned city)
{
	unsigned npc = 1 + (NCITY - city) / 120; /* big towns: more codes */

	e->city = city;
	snprintf(e->f[F_POSTCODE], 96, "%05u",
		 1000 + city * 49 + pick(&g->r, npc));
	snprintf(e->f[F_CITY], 96, "%s", g->city[city]);
	snprintf(e->f[F_STREET], 96, "%s%s", PICK(&g->r, streets),
		 PICK(&g->r, street_types));
	if (chance(g, 0.1))
		snprintf(e->f[F_HOUSE], 96, "%u%c", 1 + pick(&g->r, 200),
			 'a' + pick(&g->r, 4));
	else
		snprintf(e->f[F_HOUSE], 96, "%u", 1 + pick(&g->r, 200));
}

static void new_vat(struct gen *g, char *out)
{
	char d[9];

	d[0] = (char)('1' + pick(&g->r, 9));
	for (int i = 1; i < 8; i++)
		d[i] = (char)('0' + pick(&g->r, 10));
	d[8] = '\0';
	snprintf(out, 96, "DE%s%d", d, kt_matchsynth_vat_check(d));
}

static const char *register_type(const char *legal)
{
	if (!strcmp(legal, "gmbh") || !strcmp(legal, "ug") ||
	    !strcmp(legal, "ag"))
		return "HRB";
	if (!strcmp(legal, "kg") || !strcmp(legal, "gmbh_co_kg") ||
	    !strcmp(legal, "ek") || !strcmp(legal, "ohg"))
		return "HRA";
	if (!strcmp(legal, "eg"))
		return "GnR";
	if (!strcmp(legal, "ev"))
		return "VR";
	return NULL;
}

static void new_register(struct gen *g, struct ent *e)
{
	const char *type = register_type(e->f[F_LEGAL]);

	e->f[F_REGISTER][0] = '\0';
	if (type != NULL && unif(&g->r) < 0.75)
		snprintf(e->f[F_REGISTER], 96, "%s|%s|%u",
			 g->city[e->city / 10 * 10], type,
			 1 + pick(&g->r, 300000));
}

static void email_for(struct gen *g, struct ent *e)
{
	char slug[32];
	size_t k = 0;

	for (const char *s = e->f[F_NAME]; *s && k < 20; s++)
		if (*s != ' ')
			slug[k++] = *s;
	slug[k] = '\0';
	snprintf(e->f[F_EMAIL], 96, "%s@%s.de", PICK(&g->r, locals), slug);
}

static void new_entity(struct gen *g, struct ent *e)
{
	unsigned pattern = pick(&g->r, 10);
	char *name = e->f[F_NAME];

	memset(e, 0, sizeof(*e));
	switch (pattern) {
	case 0:
	case 1:
	case 2:
	case 3:
		snprintf(name, 96, "%s %s", PICK(&g->r, surnames),
			 PICK(&g->r, business));
		break;
	case 4:
		snprintf(name, 96, "%s und %s", PICK(&g->r, surnames),
			 PICK(&g->r, surnames));
		break;
	case 5:
	case 6:
		snprintf(name, 96, "%s%s %s", PICK(&g->r, prefixes),
			 PICK(&g->r, suffixes), PICK(&g->r, business));
		break;
	case 7:
		snprintf(name, 96, "%s%s %s%s", PICK(&g->r, prefixes),
			 PICK(&g->r, suffixes), PICK(&g->r, prefixes),
			 PICK(&g->r, suffixes));
		break;
	case 8:
		snprintf(name, 96, "%s %s %s", PICK(&g->r, business),
			 PICK(&g->r, surnames), PICK(&g->r, business));
		break;
	default:
		snprintf(name, 96, "%s %s %s", PICK(&g->r, surnames),
			 PICK(&g->r, business), PICK(&g->r, business));
		break;
	}
	snprintf(e->f[F_LEGAL], 96, "%s", PICK(&g->r, legal_forms));
	set_address(g, e, pick_city(g));
	if (unif(&g->r) < 0.65)
		new_vat(g, e->f[F_VAT]);
	if (unif(&g->r) < 0.45)
		snprintf(e->f[F_TAXNO], 96, "%02u%02u0%03u%04u%u",
			 10 + pick(&g->r, 32), pick(&g->r, 100),
			 pick(&g->r, 1000), pick(&g->r, 10000),
			 pick(&g->r, 10));
	new_register(g, e);
	if (unif(&g->r) < 0.75)
		email_for(g, e);
}

static void typo(struct gen *g, char *s)
{
	size_t n = strlen(s), i;

	if (n < 3)
		return;
	i = 1 + pick(&g->r, n - 1); /* first letter kept: people see it */
	switch (pick(&g->r, 4)) {
	case 0: /* substitute */
		s[i] = (char)('a' + pick(&g->r, 26));
		break;
	case 1: /* delete */
		memmove(s + i, s + i + 1, n - i);
		break;
	case 2: /* insert */
		if (n + 2 < 96) {
			memmove(s + i + 1, s + i, n - i + 1);
			s[i] = (char)('a' + pick(&g->r, 26));
		}
		break;
	default: /* transpose */
		if (i + 1 < n) {
			char c = s[i];

			s[i] = s[i + 1];
			s[i + 1] = c;
		}
	}
}

/* "ue" -> "u": an export that dropped the umlaut ("Muller"). */
static void drop_umlaut(char *s)
{
	static const char *const pairs[] = {"ue", "oe", "ae"};

	for (int k = 0; k < 3; k++) {
		char *p = strstr(s, pairs[k]);

		if (p != NULL && p != s) {
			memmove(p + 1, p + 2, strlen(p + 2) + 1);
			return;
		}
	}
}

static void drop_last_token(char *s)
{
	char *sp = strrchr(s, ' ');

	if (sp != NULL && strchr(s, ' ') != sp)
		*sp = '\0';
}

static void vary(struct gen *g, const struct ent *base, struct ent *d)
{
	*d = *base;
	if (chance(g, 0.15))
		typo(g, d->f[F_NAME]);
	if (chance(g, 0.1))
		drop_umlaut(d->f[F_NAME]);
	if (chance(g, 0.05))
		drop_last_token(d->f[F_NAME]);
	if (chance(g, 0.05))
		d->f[F_LEGAL][0] = '\0';
	if (chance(g, 0.35))
		d->f[F_VAT][0] = '\0';
	else if (d->f[F_VAT][0] && chance(g, 0.03))
		d->f[F_VAT][2 + pick(&g->r, 9)] = (char)('0' + pick(&g->r, 10));
	if (chance(g, 0.3))
		d->f[F_TAXNO][0] = '\0';
	if (chance(g, 0.3))
		d->f[F_REGISTER][0] = '\0';
	else if (d->f[F_REGISTER][0] && chance(g, 0.03)) {
		char *bar = strchr(d->f[F_REGISTER], '|');

		/* Written without the court: kept, flagged invalid. */
		if (bar != NULL) {
			memmove(d->f[F_REGISTER] + 1, bar, strlen(bar) + 1);
			d->f[F_REGISTER][0] = '?';
		}
	}
	if (chance(g, 0.08)) {
		/* Moved: half the time within the town. A move to another
		 * court district means a new register number there. */
		unsigned city = chance(g, 0.5) ? base->city : pick_city(g);

		set_address(g, d, city);
		if (d->f[F_REGISTER][0] && city / 10 != base->city / 10 &&
		    chance(g, 0.5))
			new_register(g, d);
	} else {
		if (chance(g, 0.08))
			typo(g, d->f[F_STREET]);
		if (chance(g, 0.03))
			snprintf(d->f[F_HOUSE], 96, "%u", 1 + pick(&g->r, 200));
		if (chance(g, 0.02))
			d->f[F_POSTCODE][0] = '\0';
	}
	if (chance(g, 0.25))
		email_for(g, d);
	if (chance(g, 0.2))
		d->f[F_EMAIL][0] = '\0';
}

static int emit(struct gen *g, struct kt_match_table *t, const struct ent *e,
		uint32_t entity, uint32_t **truth, size_t *cap,
		struct kt_error *err)
{
	const char *vals[KT_MATCH_MAX_FIELDS];
	int valid[KT_MATCH_MAX_FIELDS];
	unsigned nf = kt_match_profile_nfields(kt_match_table_profile(t));
	size_t n = kt_match_table_size(t);
	uint32_t *nt;
	char id[32];

	for (unsigned f = 0; f < nf; f++) {
		vals[f] = "";
		valid[f] = 1;
	}
	for (int k = 0; k < F_COUNT; k++) {
		int f = g->fidx[k];

		if (f < 0)
			continue;
		vals[f] = e->f[k];
		if (k == F_VAT)
			valid[f] = vat_valid(e->f[k]);
		if (k == F_REGISTER)
			valid[f] = e->f[k][0] != '?';
	}
	if ((nt = kt_grow(*truth, cap, n, sizeof(*nt), 4096)) == NULL)
		return kt_error_set(err, KT_ERR_NOMEM, "synth: out of memory");
	*truth = nt;
	snprintf(id, sizeof(id), "r%08zu", n + 1);
	(*truth)[n] = entity;
	return kt_match_table_add(t, id, vals, valid, err);
}

void kt_matchsynth_defaults(struct kt_matchsynth_params *params)
{
	params->records = 10000;
	params->dup_rate = 0.35;
	params->max_dups = 3;
	params->sibling_rate = 0.3;
	params->noise = 1.0;
	params->seed = 1;
}

int kt_matchsynth_generate(const struct kt_match_profile *p,
			   const struct kt_matchsynth_params *params,
			   struct kt_match_table **table, uint32_t **truth,
			   struct kt_error *err)
{
	struct kt_match_table *t = NULL;
	struct gen *g = NULL;
	uint32_t *tr = NULL, entity = 0;
	size_t cap = 0;
	int r;

	*table = NULL;
	*truth = NULL;
	g = calloc(1, sizeof(*g));
	if (g == NULL || kt_match_table_new(p, &t) != KT_OK) {
		r = kt_error_set(err, KT_ERR_NOMEM, "synth: out of memory");
		goto cleanup;
	}
	g->r.s = params->seed;
	g->pp = params;
	for (int k = 0; k < F_COUNT; k++)
		g->fidx[k] = kt_match_profile_field_index(p, field_names[k]);
	make_city_names(g);
	while (kt_match_table_size(t) < params->records) {
		struct ent base, d;
		unsigned dups = 0;

		new_entity(g, &base);
		if ((r = emit(g, t, &base, entity, &tr, &cap, err)) != KT_OK)
			goto cleanup;
		if (unif(&g->r) < params->dup_rate && params->max_dups > 0)
			dups = 1 + pick(&g->r, params->max_dups);
		for (unsigned i = 0; i < dups; i++) {
			vary(g, &base, &d);
			if ((r = emit(g, t, &d, entity, &tr, &cap, err)) !=
			    KT_OK)
				goto cleanup;
		}
		entity++;
		if (strcmp(base.f[F_LEGAL], "gmbh_co_kg") == 0 &&
		    unif(&g->r) < params->sibling_rate) {
			/* The general partner: same address, near-identical
			 * name, its own identifiers. The classic false merge.
			 */
			struct ent sib = base;

			strncat(sib.f[F_NAME], " verwaltung",
				sizeof(sib.f[F_NAME]) - strlen(sib.f[F_NAME]) -
				    1);
			snprintf(sib.f[F_LEGAL], 96, "gmbh");
			sib.f[F_VAT][0] = '\0';
			if (unif(&g->r) < 0.5)
				new_vat(g, sib.f[F_VAT]);
			sib.f[F_TAXNO][0] = '\0';
			new_register(g, &sib);
			if (unif(&g->r) < 0.5)
				email_for(g, &sib);
			if ((r = emit(g, t, &sib, entity, &tr, &cap, err)) !=
			    KT_OK)
				goto cleanup;
			if (unif(&g->r) < params->dup_rate) {
				vary(g, &sib, &d);
				if ((r = emit(g, t, &d, entity, &tr, &cap,
					      err)) != KT_OK)
					goto cleanup;
			}
			entity++;
		}
	}
	*table = t;
	*truth = tr;
	t = NULL;
	tr = NULL;
	r = KT_OK;
cleanup:
	kt_match_table_free(t);
	free(tr);
	free(g);
	return r;
}
