#include <stdio.h>
#include <string.h>

#include "kontor/err.h"
#include "kontor/ident.h"
#include "kontor/norm.h"
#include "kontor/util.h"

#define IDENT_IN_MAX 256 /* longest identifier text looked at */

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

static int is_upper(unsigned char c)
{
	return c >= 'A' && c <= 'Z';
}

static int is_lower(unsigned char c)
{
	return c >= 'a' && c <= 'z';
}

static char upper(char c)
{
	return is_lower((unsigned char)c) ? (char)(c - 'a' + 'A') : c;
}

static char printable(unsigned char c)
{
	return (c >= 0x20 && c < 0x7f) ? (char)c : '?';
}

/* Copy without whitespace, prefix letters upper-cased; KT_ERR_LIMIT if long. */
static int compact(const char *in, char *out, size_t cap, size_t *n)
{
	size_t w = 0;

	for (size_t i = 0; in[i] != '\0'; i++) {
		if (is_space((unsigned char)in[i]))
			continue;
		if (w + 1 >= cap)
			return KT_ERR_LIMIT;
		out[w++] = in[i];
	}
	out[w] = '\0';
	if (w >= 1)
		out[0] = upper(out[0]);
	if (w >= 2)
		out[1] = upper(out[1]);
	*n = w;
	return KT_OK;
}

/* ---- USt-IdNr ------------------------------------------------------------ */

int kt_ident_vat_check_digit(const char digits[8])
{
	int p = 10;

	for (int i = 0; i < 8; i++) {
		int s;
		if (!is_digit((unsigned char)digits[i]))
			return -1;
		s = (digits[i] - '0' + p) % 10;
		if (s == 0)
			s = 10;
		p = (2 * s) % 11;
	}
	p = 11 - p;
	return p == 10 ? 0 : p;
}

int kt_ident_vat_normalize(const char *in, char out[12], struct kt_error *err)
{
	char c[40];
	size_t n, nd;
	int want;

	out[0] = '\0';
	if (in == NULL)
		return kt_error_set(err, KT_ERR_INVALID, "empty VAT id");
	if (compact(in, c, sizeof(c), &n) != KT_OK)
		return kt_error_set(err, KT_ERR_INVALID, "VAT id too long");
	if (n == 0)
		return kt_error_set(err, KT_ERR_INVALID, "empty VAT id");
	if (n >= 2 && is_upper((unsigned char)c[0]) &&
	    is_upper((unsigned char)c[1]) && !(c[0] == 'D' && c[1] == 'E'))
		return kt_error_set(err, KT_ERR_INVALID,
				    "not a German VAT id (country '%c%c')",
				    c[0], c[1]);
	if (n < 2 || c[0] != 'D' || c[1] != 'E')
		return kt_error_set(err, KT_ERR_INVALID, "must start with DE");
	for (size_t i = 2; i < n; i++)
		if (!is_digit((unsigned char)c[i]))
			return kt_error_set(err, KT_ERR_INVALID,
					    "unexpected character '%c'",
					    printable((unsigned char)c[i]));
	nd = n - 2;
	if (nd != 9)
		return kt_error_set(err, KT_ERR_INVALID,
				    "expected 9 digits after DE, found %zu",
				    nd);
	memcpy(out, c, 11);
	out[11] = '\0';
	want = kt_ident_vat_check_digit(c + 2);
	if (c[10] - '0' != want)
		return kt_error_set(err, KT_ERR_INVALID,
				    "check digit is %c, expected %d", c[10],
				    want);
	return KT_OK;
}

/* ---- W-IdNr -------------------------------------------------------------- */

int kt_ident_widnr_normalize(const char *in, char out[18], struct kt_error *err)
{
	char c[40];
	size_t n, i, nd = 0, ns = 0;

	out[0] = '\0';
	if (in == NULL)
		return kt_error_set(err, KT_ERR_INVALID, "empty W-IdNr");
	if (compact(in, c, sizeof(c), &n) != KT_OK)
		return kt_error_set(err, KT_ERR_INVALID, "W-IdNr too long");
	if (n == 0)
		return kt_error_set(err, KT_ERR_INVALID, "empty W-IdNr");
	if (n < 2 || c[0] != 'D' || c[1] != 'E')
		return kt_error_set(err, KT_ERR_INVALID, "must start with DE");
	for (i = 2; i < n; i++)
		if (!is_digit((unsigned char)c[i]) && c[i] != '-')
			return kt_error_set(err, KT_ERR_INVALID,
					    "unexpected character '%c'",
					    printable((unsigned char)c[i]));
	for (i = 2; i < n && is_digit((unsigned char)c[i]); i++)
		nd++;
	if (i < n && c[i] == '-') {
		if (nd != 9)
			return kt_error_set(err, KT_ERR_INVALID,
					    "expected 9 digits after DE");
		for (i++; i < n && is_digit((unsigned char)c[i]); i++)
			ns++;
		if (i != n || ns != 5)
			return kt_error_set(err, KT_ERR_INVALID,
					    "suffix must have 5 digits");
	} else if (i == n && nd == 14) {
		ns = 5; /* "DE12345678800001": hyphen left out */
		nd = 9;
	} else if (i == n && nd == 9) {
		return kt_error_set(err, KT_ERR_INVALID,
				    "suffix must have 5 digits");
	} else {
		return kt_error_set(err, KT_ERR_INVALID,
				    "expected 9 digits after DE");
	}
	{
		char digits[16];
		size_t k = 0;
		for (i = 2; i < n; i++)
			if (is_digit((unsigned char)c[i]))
				digits[k++] = c[i];
		memcpy(out, "DE", 2);
		memcpy(out + 2, digits, 9);
		out[11] = '-';
		memcpy(out + 12, digits + 9, 5);
		out[17] = '\0';
	}
	return KT_OK;
}

/* ---- Steuernummer -------------------------------------------------------- */

struct taxno_fmt {
	enum kt_land land;
	const char *prefix;  /* federal prefix */
	int drop;	     /* leading Land digits replaced by the prefix */
	char lead;	     /* required first digit, or 0 */
	int fa;		     /* digits of the Finanzamt part in the Land form */
	int bz;		     /* digits of the district */
	int ndig;	     /* 10 or 11 */
	int g1, g2;	     /* canonical group ends (g2 0: two groups) */
	char sep;	     /* canonical separator */
	const char *pattern; /* for messages */
};

/* Reference section 3, one row per Land. */
static const struct taxno_fmt taxno_fmts[KT_LAND_COUNT] = {
    {KT_LAND_BW, "28", 0, 0, 2, 3, 10, 5, 0, '/', "FFBBB/UUUUP"},
    {KT_LAND_BY, "9", 0, 0, 3, 3, 11, 3, 6, '/', "FFF/BBB/UUUUP"},
    {KT_LAND_BE, "11", 0, 0, 2, 3, 10, 2, 5, '/', "FF/BBB/UUUUP"},
    {KT_LAND_BB, "3", 0, '0', 3, 3, 11, 3, 6, '/', "0FF/BBB/UUUUP"},
    {KT_LAND_HB, "24", 0, 0, 2, 3, 10, 2, 5, ' ', "FF BBB UUUUP"},
    {KT_LAND_HH, "22", 0, 0, 2, 3, 10, 2, 5, '/', "FF/BBB/UUUUP"},
    {KT_LAND_HE, "26", 1, '0', 3, 3, 11, 3, 6, ' ', "0FF BBB UUUUP"},
    {KT_LAND_MV, "4", 0, '0', 3, 3, 11, 3, 6, '/', "0FF/BBB/UUUUP"},
    {KT_LAND_NI, "23", 0, 0, 2, 3, 10, 2, 5, '/', "FF/BBB/UUUUP"},
    {KT_LAND_NW, "5", 0, 0, 3, 4, 11, 3, 7, '/', "FFF/BBBB/UUUP"},
    {KT_LAND_RP, "27", 0, 0, 2, 3, 10, 2, 5, '/', "FF/BBB/UUUUP"},
    {KT_LAND_SL, "1", 0, '0', 3, 3, 11, 3, 6, '/', "0FF/BBB/UUUUP"},
    {KT_LAND_SN, "3", 0, '2', 3, 3, 11, 3, 6, '/', "2FF/BBB/UUUUP"},
    {KT_LAND_ST, "3", 0, '1', 3, 3, 11, 3, 6, '/', "1FF/BBB/UUUUP"},
    {KT_LAND_SH, "21", 0, 0, 2, 3, 10, 2, 5, ' ', "FF BBB UUUUP"},
    {KT_LAND_TH, "4", 0, '1', 3, 3, 11, 3, 6, '/', "1FF/BBB/UUUUP"},
};

static const struct taxno_fmt *fmt_of(enum kt_land land)
{
	for (int i = 0; i < KT_LAND_COUNT; i++)
		if (taxno_fmts[i].land == land)
			return &taxno_fmts[i];
	return NULL;
}

struct taxno_in {
	char d[16];   /* digits */
	int n;	      /* number of digits */
	int seps[8];  /* digit count before each separator run */
	char sepc[8]; /* the separator character of each run */
	int nsep;
};

static int taxno_scan(const char *in, struct taxno_in *t, struct kt_error *err)
{
	size_t i = 0, len;
	int in_sep = 0;

	memset(t, 0, sizeof(*t));
	if (in == NULL)
		return kt_error_set(err, KT_ERR_INVALID, "empty tax number");
	len = strnlen(in, IDENT_IN_MAX + 1);
	if (len > IDENT_IN_MAX)
		return kt_error_set(err, KT_ERR_INVALID, "tax number too long");
	while (i < len && is_space((unsigned char)in[i]))
		i++;
	while (len > i && is_space((unsigned char)in[len - 1]))
		len--;
	if (i == len)
		return kt_error_set(err, KT_ERR_INVALID, "empty tax number");
	for (; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (is_digit(c)) {
			if (t->n >= 15)
				return kt_error_set(err, KT_ERR_INVALID,
						    "more than 13 digits");
			t->d[t->n++] = (char)c;
			in_sep = 0;
		} else if (c == '/' || c == ' ' || c == '\t') {
			if (t->n == 0)
				return kt_error_set(err, KT_ERR_INVALID,
						    "starts with a separator");
			if (!in_sep) {
				if (t->nsep >= 8)
					return kt_error_set(
					    err, KT_ERR_INVALID,
					    "too many separators");
				t->seps[t->nsep] = t->n;
				t->sepc[t->nsep] = (char)(c == '\t' ? ' ' : c);
				t->nsep++;
			} else if (c == '/') {
				/* "12 / 345": the slash is what counts */
				t->sepc[t->nsep - 1] = '/';
			}
			in_sep = 1;
		} else {
			return kt_error_set(err, KT_ERR_INVALID,
					    "unexpected character '%c'",
					    printable(c));
		}
	}
	t->d[t->n] = '\0';
	return KT_OK;
}

/* Lenient fit: right digit count, fixed lead, separators at boundaries. */
static int fits(const struct taxno_fmt *f, const struct taxno_in *t)
{
	if (t->n != f->ndig)
		return 0;
	if (f->lead && t->d[0] != f->lead)
		return 0;
	for (int s = 0; s < t->nsep; s++)
		if (t->seps[s] != f->fa && t->seps[s] != f->fa + f->bz)
			return 0;
	return 1;
}

/* Strict fit: exactly the canonical grouping and separator. */
static int fits_canonical(const struct taxno_fmt *f, const struct taxno_in *t)
{
	int want = f->g2 ? 2 : 1;

	if (!fits(f, t) || t->nsep != want)
		return 0;
	if (t->seps[0] != f->g1 || t->sepc[0] != f->sep)
		return 0;
	if (want == 2 && (t->seps[1] != f->g2 || t->sepc[1] != f->sep))
		return 0;
	return 1;
}

static void to_federal(const struct taxno_fmt *f, const struct taxno_in *t,
		       char out[14])
{
	size_t w = 0;

	/* the table guarantees 13 digits; the bounds keep it that way */
	for (const char *p = f->prefix; *p && w < 13; p++)
		out[w++] = *p;
	for (int i = f->drop; i < f->fa && w < 13; i++)
		out[w++] = t->d[i];
	if (w < 13)
		out[w++] = '0';
	for (int i = f->fa; i < t->n && w < 13; i++)
		out[w++] = t->d[i];
	out[w] = '\0';
}

enum kt_land kt_ident_taxno_land(const char *fed)
{
	if (fed == NULL || strlen(fed) != 13)
		return KT_LAND_NONE;
	for (int i = 0; i < 13; i++)
		if (!is_digit((unsigned char)fed[i]))
			return KT_LAND_NONE;
	if (fed[0] == '5')
		return KT_LAND_NW;
	if (fed[0] == '9')
		return KT_LAND_BY;
	for (int i = 0; i < KT_LAND_COUNT; i++) {
		const struct taxno_fmt *f = &taxno_fmts[i];
		if (strlen(f->prefix) == 2 && memcmp(fed, f->prefix, 2) == 0)
			return f->land;
		/* one-digit prefixes followed by the fixed Land digit */
		if (strlen(f->prefix) == 1 && fed[0] == f->prefix[0] &&
		    f->lead && fed[1] == f->lead)
			return f->land;
	}
	return KT_LAND_NONE;
}

static int federal_check(const struct taxno_in *t, char out[14],
			 struct kt_error *err)
{
	if (kt_ident_taxno_land(t->d) == KT_LAND_NONE)
		return kt_error_set(err, KT_ERR_INVALID,
				    "unknown Land prefix '%.2s' in the federal "
				    "form",
				    t->d);
	if (t->d[4] != '0')
		return kt_error_set(
		    err, KT_ERR_INVALID,
		    "fifth digit of the federal form must be 0");
	memcpy(out, t->d, 14);
	return KT_OK;
}

static void list_canonical(const struct taxno_in *t, char *buf, size_t cap)
{
	size_t w = 0;

	buf[0] = '\0';
	for (int i = 0; i < KT_LAND_COUNT; i++) {
		if (!fits_canonical(&taxno_fmts[i], t))
			continue;
		w += (size_t)snprintf(buf + w, w < cap ? cap - w : 0, "%s%s",
				      w ? ", " : "",
				      kt_land_code(taxno_fmts[i].land));
		if (w >= cap)
			break;
	}
}

static int taxno_one(const struct taxno_in *t, enum kt_land land, char out[14],
		     struct kt_error *err)
{
	const struct taxno_fmt *f;
	char list[64];

	if (t->n == 13)
		return federal_check(t, out, err);
	if (t->n != 10 && t->n != 11)
		return kt_error_set(err, KT_ERR_INVALID,
				    "%d digits: neither a Land notation nor "
				    "the 13-digit federal form",
				    t->n);
	if (land == KT_LAND_NONE) {
		list_canonical(t, list, sizeof(list));
		if (list[0] != '\0')
			return kt_error_set(err, KT_ERR_INVALID,
					    "ambiguous without the Land: the "
					    "notation fits %s",
					    list);
		return kt_error_set(err, KT_ERR_INVALID,
				    "ambiguous without the Land: %d digits in "
				    "a Land notation",
				    t->n);
	}
	if ((f = fmt_of(land)) == NULL)
		return kt_error_set(err, KT_ERR_INVALID, "unknown Land");
	if (!fits(f, t))
		return kt_error_set(err, KT_ERR_INVALID,
				    "does not fit the notation of %s (%s)",
				    kt_land_code(land), f->pattern);
	to_federal(f, t, out);
	return KT_OK;
}

int kt_ident_taxno_normalize(const char *in, enum kt_land land, char out[14],
			     struct kt_error *err)
{
	struct taxno_in t;
	int r;

	out[0] = '\0';
	if ((r = taxno_scan(in, &t, err)) != KT_OK)
		return r;
	return taxno_one(&t, land, out, err);
}

int kt_ident_taxno_resolve(const char *in, const enum kt_land *lands, size_t n,
			   char out[14], enum kt_land *used,
			   struct kt_error *err)
{
	struct taxno_in t;
	struct kt_error first;
	const struct taxno_fmt *only = NULL;
	int r, nfit = 0;

	out[0] = '\0';
	if (used)
		*used = KT_LAND_NONE;
	kt_error_clear(&first);
	if ((r = taxno_scan(in, &t, err)) != KT_OK)
		return r;
	if (t.n == 13) {
		if ((r = federal_check(&t, out, err)) == KT_OK && used)
			*used = kt_ident_taxno_land(out);
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		struct kt_error e;
		if (lands[i] == KT_LAND_NONE)
			continue;
		if (taxno_one(&t, lands[i], out, &e) == KT_OK) {
			if (used)
				*used = lands[i];
			return KT_OK;
		}
		if (first.code == KT_OK)
			first = e;
	}
	for (int i = 0; i < KT_LAND_COUNT; i++)
		if (fits_canonical(&taxno_fmts[i], &t)) {
			nfit++;
			only = &taxno_fmts[i];
		}
	if (nfit == 1) {
		to_federal(only, &t, out);
		if (used)
			*used = only->land;
		return KT_OK;
	}
	out[0] = '\0';
	if (nfit > 1 && first.code != KT_OK) {
		/* a valid-looking number whose Land we cannot tell */
		char list[64], which[32] = "";
		list_canonical(&t, list, sizeof(list));
		for (size_t i = 0; i < n; i++)
			if (lands[i] != KT_LAND_NONE) {
				snprintf(which, sizeof(which), "%s",
					 kt_land_code(lands[i]));
				break;
			}
		return kt_error_set(err, KT_ERR_INVALID,
				    "Land unknown: not the notation of %s; "
				    "the notation fits %s",
				    which, list);
	}
	if (first.code != KT_OK) {
		if (err)
			*err = first;
		return first.code;
	}
	return taxno_one(&t, KT_LAND_NONE, out, err);
}

int kt_ident_taxno_format_land(const char *fed, char *out, size_t cap)
{
	enum kt_land land = kt_ident_taxno_land(fed);
	const struct taxno_fmt *f;
	char d[16];
	size_t w = 0, pl;
	int n;

	if (cap > 0)
		out[0] = '\0';
	if (land == KT_LAND_NONE || fed[4] != '0')
		return KT_ERR_INVALID;
	f = fmt_of(land);
	pl = strlen(f->prefix);
	/* Land digits: dropped lead, the rest of the Finanzamt part, then
	 * everything after the fixed 0. */
	if (f->drop)
		d[w++] = f->lead;
	for (size_t i = pl; i < 4; i++)
		d[w++] = fed[i];
	for (size_t i = 5; i < 13; i++)
		d[w++] = fed[i];
	d[w] = '\0';
	if ((int)w != f->ndig)
		return KT_ERR_INVALID;
	if (f->g2)
		n = snprintf(out, cap, "%.*s%c%.*s%c%s", f->g1, d, f->sep,
			     f->g2 - f->g1, d + f->g1, f->sep, d + f->g2);
	else
		n = snprintf(out, cap, "%.*s%c%s", f->g1, d, f->sep, d + f->g1);
	if (n < 0 || (size_t)n >= cap)
		return KT_ERR_LIMIT;
	return KT_OK;
}

/* ---- register courts ----------------------------------------------------- */

struct court {
	const char *id, *name;
	enum kt_land land;
	const char *alias; /* extra city-key forms, '|' separated, or NULL */
	const char *key;   /* kt_norm_city_key(name), precomputed: a lookup
			      runs for every imported row (test_ident checks
			      that it matches) */
};

/*
 * The register courts (Registergerichte) after the Länder's concentration
 * of the registers: our own list, covering the courts the reference names
 * and the common ones; not guaranteed complete (the 2018 extract counted
 * 138 distinct courts, including historical ones). A court not in the
 * table is kept as written and marked unvalidated.
 */
static const struct court courts[] = {
    /* Baden-Württemberg */
    {"freiburg", "Freiburg i. Br.", KT_LAND_BW, "freiburg im breisgau|freiburg",
     "freiburg im breisgau"},
    {"mannheim", "Mannheim", KT_LAND_BW, NULL, "mannheim"},
    {"stuttgart", "Stuttgart", KT_LAND_BW, NULL, "stuttgart"},
    {"ulm", "Ulm", KT_LAND_BW, NULL, "ulm"},
    /* Bayern */
    {"amberg", "Amberg", KT_LAND_BY, NULL, "amberg"},
    {"ansbach", "Ansbach", KT_LAND_BY, NULL, "ansbach"},
    {"aschaffenburg", "Aschaffenburg", KT_LAND_BY, NULL, "aschaffenburg"},
    {"augsburg", "Augsburg", KT_LAND_BY, NULL, "augsburg"},
    {"bamberg", "Bamberg", KT_LAND_BY, NULL, "bamberg"},
    {"bayreuth", "Bayreuth", KT_LAND_BY, NULL, "bayreuth"},
    {"coburg", "Coburg", KT_LAND_BY, NULL, "coburg"},
    {"deggendorf", "Deggendorf", KT_LAND_BY, NULL, "deggendorf"},
    {"fuerth", "Fürth", KT_LAND_BY, NULL, "fuerth"},
    {"hof", "Hof", KT_LAND_BY, NULL, "hof"},
    {"ingolstadt", "Ingolstadt", KT_LAND_BY, NULL, "ingolstadt"},
    {"kempten", "Kempten (Allgäu)", KT_LAND_BY, "kempten", "kempten allgaeu"},
    {"landshut", "Landshut", KT_LAND_BY, NULL, "landshut"},
    {"memmingen", "Memmingen", KT_LAND_BY, NULL, "memmingen"},
    {"muenchen", "München", KT_LAND_BY, NULL, "muenchen"},
    {"nuernberg", "Nürnberg", KT_LAND_BY, NULL, "nuernberg"},
    {"passau", "Passau", KT_LAND_BY, NULL, "passau"},
    {"regensburg", "Regensburg", KT_LAND_BY, NULL, "regensburg"},
    {"schweinfurt", "Schweinfurt", KT_LAND_BY, NULL, "schweinfurt"},
    {"straubing", "Straubing", KT_LAND_BY, NULL, "straubing"},
    {"traunstein", "Traunstein", KT_LAND_BY, NULL, "traunstein"},
    {"weiden", "Weiden i. d. OPf.", KT_LAND_BY,
     "weiden|weiden in der oberpfalz", "weiden in der opf"},
    {"wuerzburg", "Würzburg", KT_LAND_BY, NULL, "wuerzburg"},
    /* Berlin: one register court for the whole Land */
    {"charlottenburg", "Charlottenburg (Berlin)", KT_LAND_BE,
     "charlottenburg|berlin charlottenburg|berlin", "charlottenburg berlin"},
    /* Brandenburg */
    {"cottbus", "Cottbus", KT_LAND_BB, NULL, "cottbus"},
    {"frankfurt_oder", "Frankfurt (Oder)", KT_LAND_BB, NULL, "frankfurt oder"},
    {"neuruppin", "Neuruppin", KT_LAND_BB, NULL, "neuruppin"},
    {"potsdam", "Potsdam", KT_LAND_BB, NULL, "potsdam"},
    /* Bremen, Hamburg */
    {"bremen", "Bremen", KT_LAND_HB, NULL, "bremen"},
    {"hamburg", "Hamburg", KT_LAND_HH, NULL, "hamburg"},
    /* Hessen */
    {"bad_hersfeld", "Bad Hersfeld", KT_LAND_HE, NULL, "bad hersfeld"},
    {"bad_homburg", "Bad Homburg v. d. Höhe", KT_LAND_HE,
     "bad homburg|bad homburg vor der hoehe", "bad homburg v d hoehe"},
    {"darmstadt", "Darmstadt", KT_LAND_HE, NULL, "darmstadt"},
    {"eschwege", "Eschwege", KT_LAND_HE, NULL, "eschwege"},
    {"frankfurt_main", "Frankfurt am Main", KT_LAND_HE, NULL,
     "frankfurt am main"},
    {"friedberg", "Friedberg (Hessen)", KT_LAND_HE, "friedberg",
     "friedberg hessen"},
    {"fritzlar", "Fritzlar", KT_LAND_HE, NULL, "fritzlar"},
    {"fulda", "Fulda", KT_LAND_HE, NULL, "fulda"},
    {"giessen", "Gießen", KT_LAND_HE, NULL, "giessen"},
    {"hanau", "Hanau", KT_LAND_HE, NULL, "hanau"},
    {"kassel", "Kassel", KT_LAND_HE, NULL, "kassel"},
    {"koenigstein", "Königstein im Taunus", KT_LAND_HE, "koenigstein",
     "koenigstein im taunus"},
    {"korbach", "Korbach", KT_LAND_HE, NULL, "korbach"},
    {"limburg", "Limburg a. d. Lahn", KT_LAND_HE, "limburg",
     "limburg an der lahn"},
    {"marburg", "Marburg", KT_LAND_HE, NULL, "marburg"},
    {"offenbach", "Offenbach am Main", KT_LAND_HE, "offenbach",
     "offenbach am main"},
    {"wetzlar", "Wetzlar", KT_LAND_HE, NULL, "wetzlar"},
    {"wiesbaden", "Wiesbaden", KT_LAND_HE, NULL, "wiesbaden"},
    /* Mecklenburg-Vorpommern */
    {"neubrandenburg", "Neubrandenburg", KT_LAND_MV, NULL, "neubrandenburg"},
    {"rostock", "Rostock", KT_LAND_MV, NULL, "rostock"},
    {"schwerin", "Schwerin", KT_LAND_MV, NULL, "schwerin"},
    {"stralsund", "Stralsund", KT_LAND_MV, NULL, "stralsund"},
    /* Niedersachsen */
    {"aurich", "Aurich", KT_LAND_NI, NULL, "aurich"},
    {"braunschweig", "Braunschweig", KT_LAND_NI, NULL, "braunschweig"},
    {"goettingen", "Göttingen", KT_LAND_NI, NULL, "goettingen"},
    {"hannover", "Hannover", KT_LAND_NI, NULL, "hannover"},
    {"hildesheim", "Hildesheim", KT_LAND_NI, NULL, "hildesheim"},
    {"lueneburg", "Lüneburg", KT_LAND_NI, NULL, "lueneburg"},
    {"oldenburg", "Oldenburg (Oldenburg)", KT_LAND_NI,
     "oldenburg|oldenburg oldb", "oldenburg oldenburg"},
    {"osnabrueck", "Osnabrück", KT_LAND_NI, NULL, "osnabrueck"},
    {"stade", "Stade", KT_LAND_NI, NULL, "stade"},
    {"tostedt", "Tostedt", KT_LAND_NI, NULL, "tostedt"},
    {"walsrode", "Walsrode", KT_LAND_NI, NULL, "walsrode"},
    /* Nordrhein-Westfalen */
    {"aachen", "Aachen", KT_LAND_NW, NULL, "aachen"},
    {"arnsberg", "Arnsberg", KT_LAND_NW, NULL, "arnsberg"},
    {"bad_oeynhausen", "Bad Oeynhausen", KT_LAND_NW, NULL, "bad oeynhausen"},
    {"bielefeld", "Bielefeld", KT_LAND_NW, NULL, "bielefeld"},
    {"bochum", "Bochum", KT_LAND_NW, NULL, "bochum"},
    {"bonn", "Bonn", KT_LAND_NW, NULL, "bonn"},
    {"coesfeld", "Coesfeld", KT_LAND_NW, NULL, "coesfeld"},
    {"dortmund", "Dortmund", KT_LAND_NW, NULL, "dortmund"},
    {"dueren", "Düren", KT_LAND_NW, NULL, "dueren"},
    {"duesseldorf", "Düsseldorf", KT_LAND_NW, NULL, "duesseldorf"},
    {"duisburg", "Duisburg", KT_LAND_NW, NULL, "duisburg"},
    {"essen", "Essen", KT_LAND_NW, NULL, "essen"},
    {"gelsenkirchen", "Gelsenkirchen", KT_LAND_NW, NULL, "gelsenkirchen"},
    {"guetersloh", "Gütersloh", KT_LAND_NW, NULL, "guetersloh"},
    {"hagen", "Hagen", KT_LAND_NW, NULL, "hagen"},
    {"hamm", "Hamm", KT_LAND_NW, NULL, "hamm"},
    {"iserlohn", "Iserlohn", KT_LAND_NW, NULL, "iserlohn"},
    {"kleve", "Kleve", KT_LAND_NW, NULL, "kleve"},
    {"koeln", "Köln", KT_LAND_NW, NULL, "koeln"},
    {"krefeld", "Krefeld", KT_LAND_NW, NULL, "krefeld"},
    {"lemgo", "Lemgo", KT_LAND_NW, NULL, "lemgo"},
    {"moenchengladbach", "Mönchengladbach", KT_LAND_NW, NULL,
     "moenchengladbach"},
    {"muenster", "Münster", KT_LAND_NW, NULL, "muenster"},
    {"neuss", "Neuss", KT_LAND_NW, NULL, "neuss"},
    {"paderborn", "Paderborn", KT_LAND_NW, NULL, "paderborn"},
    {"recklinghausen", "Recklinghausen", KT_LAND_NW, NULL, "recklinghausen"},
    {"siegburg", "Siegburg", KT_LAND_NW, NULL, "siegburg"},
    {"siegen", "Siegen", KT_LAND_NW, NULL, "siegen"},
    {"steinfurt", "Steinfurt", KT_LAND_NW, NULL, "steinfurt"},
    {"wuppertal", "Wuppertal", KT_LAND_NW, NULL, "wuppertal"},
    /* Rheinland-Pfalz */
    {"bad_kreuznach", "Bad Kreuznach", KT_LAND_RP, NULL, "bad kreuznach"},
    {"kaiserslautern", "Kaiserslautern", KT_LAND_RP, NULL, "kaiserslautern"},
    {"koblenz", "Koblenz", KT_LAND_RP, NULL, "koblenz"},
    {"landau", "Landau in der Pfalz", KT_LAND_RP, "landau|landau pfalz",
     "landau in der pfalz"},
    {"ludwigshafen", "Ludwigshafen am Rhein", KT_LAND_RP, "ludwigshafen",
     "ludwigshafen am rhein"},
    {"mainz", "Mainz", KT_LAND_RP, NULL, "mainz"},
    {"montabaur", "Montabaur", KT_LAND_RP, NULL, "montabaur"},
    {"wittlich", "Wittlich", KT_LAND_RP, NULL, "wittlich"},
    {"zweibruecken", "Zweibrücken", KT_LAND_RP, NULL, "zweibruecken"},
    /* Saarland, Sachsen, Sachsen-Anhalt */
    {"saarbruecken", "Saarbrücken", KT_LAND_SL, NULL, "saarbruecken"},
    {"chemnitz", "Chemnitz", KT_LAND_SN, NULL, "chemnitz"},
    {"dresden", "Dresden", KT_LAND_SN, NULL, "dresden"},
    {"leipzig", "Leipzig", KT_LAND_SN, NULL, "leipzig"},
    {"stendal", "Stendal", KT_LAND_ST, NULL, "stendal"},
    /* Schleswig-Holstein */
    {"flensburg", "Flensburg", KT_LAND_SH, NULL, "flensburg"},
    {"kiel", "Kiel", KT_LAND_SH, NULL, "kiel"},
    {"luebeck", "Lübeck", KT_LAND_SH, NULL, "luebeck"},
    {"pinneberg", "Pinneberg", KT_LAND_SH, NULL, "pinneberg"},
    /* Thüringen */
    {"jena", "Jena", KT_LAND_TH, NULL, "jena"},
};

#define N_COURTS (sizeof(courts) / sizeof(courts[0]))

size_t kt_ident_court_count(void)
{
	return N_COURTS;
}

int kt_ident_court_at(size_t i, const char **name, const char **id,
		      enum kt_land *land)
{
	if (i >= N_COURTS)
		return KT_ERR_NOTFOUND;
	if (name)
		*name = courts[i].name;
	if (id)
		*id = courts[i].id;
	if (land)
		*land = courts[i].land;
	return KT_OK;
}

static int alias_has(const char *list, const char *key)
{
	size_t kl = strlen(key);

	while (list != NULL && *list) {
		const char *bar = strchr(list, '|');
		size_t n = bar ? (size_t)(bar - list) : strlen(list);
		if (n == kl && memcmp(list, key, n) == 0)
			return 1;
		list = bar ? bar + 1 : NULL;
	}
	return 0;
}

/* Words around a court name that are not part of it. */
static int court_filler(const char *w, size_t n)
{
	static const char *const fill[] = {
	    "amtsgericht",     "ag",
	    "registergericht", "registernummer",
	    "register",	       "handelsregister",
	    "eingetragen",     "beim",
	    "unter",	       "nr",
	    "nummer",	       "sitz",
	    "gericht",	       NULL,
	};
	for (const char *const *f = fill; *f; f++)
		if (strlen(*f) == n && memcmp(*f, w, n) == 0)
			return 1;
	return 0;
}

int kt_ident_court_lookup(const char *text, const char **name, const char **id,
			  enum kt_land *land)
{
	char folded[256], key[256];
	size_t a = 0, b, w = 0;

	if (text == NULL)
		return KT_ERR_NOTFOUND;
	if (kt_norm_city_key(text, folded, sizeof(folded)) != KT_OK)
		return KT_ERR_NOTFOUND;
	/* drop filler words ("Amtsgericht", "AG", ...) anywhere */
	b = strlen(folded);
	while (a < b) {
		size_t e = a;
		while (e < b && folded[e] != ' ')
			e++;
		if (!court_filler(folded + a, e - a)) {
			if (w > 0)
				key[w++] = ' ';
			memcpy(key + w, folded + a, e - a);
			w += e - a;
		}
		a = e + 1;
	}
	key[w] = '\0';
	if (w == 0)
		return KT_ERR_NOTFOUND;
	for (size_t i = 0; i < N_COURTS; i++) {
		if ((courts[i].key[0] == key[0] &&
		     strcmp(courts[i].key, key) == 0) ||
		    (courts[i].alias != NULL &&
		     alias_has(courts[i].alias, key))) {
			if (name)
				*name = courts[i].name;
			if (id)
				*id = courts[i].id;
			if (land)
				*land = courts[i].land;
			return KT_OK;
		}
	}
	return KT_ERR_NOTFOUND;
}

/* ---- register entries ---------------------------------------------------- */

const char *kt_ident_regtype_name(enum kt_ident_regtype t)
{
	switch (t) {
	case KT_REG_HRA:
		return "HRA";
	case KT_REG_HRB:
		return "HRB";
	case KT_REG_GNR:
		return "GnR";
	case KT_REG_PR:
		return "PR";
	case KT_REG_VR:
		return "VR";
	case KT_REG_GSR:
		return "GsR";
	default:
		return "";
	}
}

struct rtok {
	size_t s, e;   /* raw byte range */
	int digits;    /* all digits */
	int all_upper; /* letters, all ASCII upper case */
	char low[40];  /* ASCII lower case copy (letters only), truncated */
};

#define MAX_RTOK 64

/* Letters (ASCII or any UTF-8 multibyte) or digits, split between them. */
static size_t reg_tokens(const char *s, size_t len, struct rtok *t)
{
	size_t n = 0, i = 0;

	while (i < len && n < MAX_RTOK) {
		unsigned char c = (unsigned char)s[i];
		int dig = is_digit(c);
		int let = is_upper(c) || is_lower(c) || c >= 0x80;
		size_t st = i, k = 0;

		if (!dig && !let) {
			i++;
			continue;
		}
		t[n].digits = dig;
		t[n].all_upper = !dig;
		while (i < len) {
			c = (unsigned char)s[i];
			if (dig ? !is_digit(c)
				: !(is_upper(c) || is_lower(c) || c >= 0x80))
				break;
			if (!dig && !is_upper(c))
				t[n].all_upper = 0;
			if (k + 1 < sizeof(t[n].low))
				t[n].low[k++] =
				    (char)(is_upper(c) ? c + 32 : c);
			i++;
		}
		t[n].low[k] = '\0';
		t[n].s = st;
		t[n].e = i;
		n++;
	}
	return n;
}

static int rt_is(const struct rtok *t, const char *w)
{
	return strcmp(t->low, w) == 0;
}

/*
 * Register type starting at token i: returns the number of tokens it
 * spans (0 if none) and sets *type.
 */
static size_t reg_type_at(const struct rtok *t, size_t n, size_t i,
			  enum kt_ident_regtype *type)
{
	if (t[i].digits)
		return 0;
	if (rt_is(&t[i], "hra")) {
		*type = KT_REG_HRA;
		return 1;
	}
	if (rt_is(&t[i], "hrb")) {
		*type = KT_REG_HRB;
		return 1;
	}
	if (rt_is(&t[i], "hr") && i + 1 < n &&
	    (rt_is(&t[i + 1], "a") || rt_is(&t[i + 1], "b"))) {
		*type = rt_is(&t[i + 1], "a") ? KT_REG_HRA : KT_REG_HRB;
		return 2;
	}
	if (rt_is(&t[i], "gnr") || rt_is(&t[i], "genr") ||
	    rt_is(&t[i], "genossenschaftsregister")) {
		*type = KT_REG_GNR;
		return 1;
	}
	if (rt_is(&t[i], "pr") || rt_is(&t[i], "partr") ||
	    rt_is(&t[i], "partnerschaftsregister")) {
		*type = KT_REG_PR;
		return 1;
	}
	if (rt_is(&t[i], "vr") || rt_is(&t[i], "vereinsregister")) {
		*type = KT_REG_VR;
		return 1;
	}
	if (rt_is(&t[i], "gsr") || rt_is(&t[i], "gesellschaftsregister")) {
		*type = KT_REG_GSR;
		return 1;
	}
	if (rt_is(&t[i], "handelsregister") && i + 1 < n) {
		size_t j = i + 1;
		if (rt_is(&t[j], "abteilung") || rt_is(&t[j], "abt"))
			j++;
		if (j < n && (rt_is(&t[j], "a") || rt_is(&t[j], "b"))) {
			*type = rt_is(&t[j], "a") ? KT_REG_HRA : KT_REG_HRB;
			return j - i + 1;
		}
	}
	return 0;
}

/* Raw text of tokens [a, b) without filler words at either end. */
static void court_span(const char *s, const struct rtok *t, size_t a, size_t b,
		       size_t *cs, size_t *ce)
{
	while (a < b && court_filler(t[a].low, strlen(t[a].low)))
		a++;
	while (b > a && court_filler(t[b - 1].low, strlen(t[b - 1].low)))
		b--;
	if (a >= b) {
		*cs = *ce = 0;
		return;
	}
	*cs = t[a].s;
	*ce = t[b - 1].e;
	/* keep a closing parenthesis: "Charlottenburg (Berlin)" */
	if (s[*ce] == ')' || s[*ce] == '.')
		(*ce)++;
}

int kt_ident_register_parse(const char *in, struct kt_ident_register *out,
			    struct kt_error *err)
{
	struct rtok t[MAX_RTOK];
	size_t n, len, i, span = 0, ti = 0, ni, after;
	size_t c1s = 0, c1e = 0, c2s = 0, c2e = 0;
	enum kt_ident_regtype type = KT_REG_NONE;
	char court[sizeof(out->court)];
	const char *cname, *cid;
	enum kt_land cland;

	memset(out, 0, sizeof(*out));
	if (in == NULL)
		return kt_error_set(err, KT_ERR_INVALID,
				    "empty register entry");
	len = strnlen(in, IDENT_IN_MAX + 1);
	if (len > IDENT_IN_MAX)
		return kt_error_set(err, KT_ERR_INVALID,
				    "register entry longer than %d bytes",
				    IDENT_IN_MAX);
	if (!kt_utf8_valid(in, len))
		return kt_error_set(err, KT_ERR_INVALID,
				    "register entry is not valid UTF-8");
	n = reg_tokens(in, len, t);
	if (n == 0)
		return kt_error_set(err, KT_ERR_INVALID,
				    "empty register entry");
	for (i = 0; i < n; i++)
		if ((span = reg_type_at(t, n, i, &type)) > 0) {
			ti = i;
			break;
		}
	if (span == 0) {
		/* An upper-case word right before a number that we do not
		 * know: say so rather than "nothing found". */
		for (i = 0; i + 1 < n; i++)
			if (t[i].all_upper && t[i].e - t[i].s >= 2 &&
			    t[i].e - t[i].s <= 5 && t[i + 1].digits &&
			    !rt_is(&t[i], "ag"))
				return kt_error_set(
				    err, KT_ERR_INVALID,
				    "unknown register type '%.*s'",
				    (int)(t[i].e - t[i].s), in + t[i].s);
		return kt_error_set(err, KT_ERR_INVALID,
				    "no register type and number found");
	}
	ni = ti + span;
	if (ni < n && !t[ni].digits &&
	    (rt_is(&t[ni], "nr") || rt_is(&t[ni], "nummer") ||
	     rt_is(&t[ni], "no")))
		ni++;
	if (ni >= n || !t[ni].digits)
		return kt_error_set(err, KT_ERR_INVALID,
				    "register number missing after %s",
				    kt_ident_regtype_name(type));
	{
		size_t s = t[ni].s, e = t[ni].e;
		while (s + 1 < e && in[s] == '0')
			s++;
		if (e - s >= sizeof(out->number))
			return kt_error_set(err, KT_ERR_INVALID,
					    "register number too long");
		if (e - s == 1 && in[s] == '0')
			return kt_error_set(err, KT_ERR_INVALID,
					    "register number 0");
		memcpy(out->number, in + s, e - s);
		out->number[e - s] = '\0';
	}
	after = ni + 1;
	/* Suffix: "B" (Berlin), "PI", "IZ", "KI" (Schleswig-Holstein), "HB"
	 * (Bremen): up to three letters right after the number, upper case
	 * (a single letter may be lower case); never "AG" (= Amtsgericht). */
	if (after < n && !t[after].digits && t[after].e - t[after].s <= 3 &&
	    (t[after].all_upper || t[after].e - t[after].s == 1) &&
	    !rt_is(&t[after], "ag") &&
	    kt_ident_court_lookup(t[after].low, NULL, NULL, NULL) != KT_OK) {
		size_t k;
		for (k = 0; k < t[after].e - t[after].s; k++)
			out->suffix[k] = upper(in[t[after].s + k]);
		out->suffix[k] = '\0';
		after++;
	}
	out->type = type;

	/* Court: the text before the type, or else after the entry. */
	court_span(in, t, 0, ti, &c1s, &c1e);
	court_span(in, t, after, n, &c2s, &c2e);
	court[0] = '\0';
	if (c1e > c1s && c2e > c2s)
		snprintf(court, sizeof(court), "%.*s %.*s", (int)(c1e - c1s),
			 in + c1s, (int)(c2e - c2s), in + c2s);
	else if (c1e > c1s)
		snprintf(court, sizeof(court), "%.*s", (int)(c1e - c1s),
			 in + c1s);
	else if (c2e > c2s)
		snprintf(court, sizeof(court), "%.*s", (int)(c2e - c2s),
			 in + c2s);
	if (court[0] != '\0' && !kt_utf8_valid(court, strlen(court))) {
		/* snprintf may have cut a character in half */
		size_t l = strlen(court);
		while (l > 0 && ((unsigned char)court[l - 1] & 0xc0) == 0x80)
			l--;
		if (l > 0)
			l--;
		court[l] = '\0';
	}
	if (court[0] != '\0' &&
	    kt_ident_court_lookup(court, &cname, &cid, &cland) == KT_OK) {
		out->court_known = 1;
		snprintf(out->court, sizeof(out->court), "%s", cname);
		snprintf(out->court_id, sizeof(out->court_id), "%s", cid);
		out->court_land = cland;
	} else {
		memcpy(out->court, court, strlen(court) + 1);
	}
	return KT_OK;
}

int kt_ident_register_key(const struct kt_ident_register *r, char *out,
			  size_t cap)
{
	int n;

	if (cap == 0)
		return KT_ERR_LIMIT;
	out[0] = '\0';
	if (!r->court_known || r->type == KT_REG_NONE || r->number[0] == '\0')
		return KT_OK;
	n = snprintf(out, cap, "%s|%s|%s%s%s", r->court_id,
		     kt_ident_regtype_name(r->type), r->number,
		     r->suffix[0] ? " " : "", r->suffix);
	if (n < 0 || (size_t)n >= cap) {
		out[0] = '\0';
		return KT_ERR_LIMIT;
	}
	return KT_OK;
}
