#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "kontor/err.h"
#include "kontor/norm.h"
#include "kontor/util.h"

/*
 * Design: one tokeniser folds UTF-8 text into lower-case ASCII tokens and
 * remembers where in the raw text each token came from. Legal forms and
 * states are then matched as token sequences from the end of a name, so
 * every spelling ("G.m.b.H.", "GmbH", "Gesellschaft mit beschränkter
 * Haftung") meets the same table, and the raw offsets let the display form
 * keep the original writing of the rest of the name.
 */

/* ---- small helpers ------------------------------------------------------ */

struct sbuf {
	char *p;
	size_t len, cap;
	int overflow;
};

static void sb_init(struct sbuf *b, char *p, size_t cap)
{
	b->p = p;
	b->len = 0;
	b->cap = cap;
	b->overflow = (cap == 0);
	if (cap > 0)
		p[0] = '\0';
}

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->overflow || b->len + n + 1 > b->cap) {
		b->overflow = 1;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static void sb_putc(struct sbuf *b, char c)
{
	sb_put(b, &c, 1);
}

static int sb_result(const struct sbuf *b)
{
	return b->overflow ? KT_ERR_LIMIT : KT_OK;
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

static char ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* ---- UTF-8 -------------------------------------------------------------- */

/* Next code point; an invalid sequence decodes as U+FFFD over one byte
 * (callers validate first, this only keeps the loop safe). */
static uint32_t u8_next(const unsigned char *s, size_t len, size_t *i)
{
	unsigned char c = s[*i];
	uint32_t cp;
	size_t need, k;

	if (c < 0x80) {
		(*i)++;
		return c;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		need = 1;
		cp = c & 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		need = 2;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		cp = c & 0x07;
	} else {
		(*i)++;
		return 0xfffd;
	}
	if (len - *i - 1 < need) {
		(*i)++;
		return 0xfffd;
	}
	for (k = 1; k <= need; k++) {
		if ((s[*i + k] & 0xc0) != 0x80) {
			(*i)++;
			return 0xfffd;
		}
		cp = (cp << 6) | (s[*i + k] & 0x3f);
	}
	*i += need + 1;
	return cp;
}

static size_t u8_put(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* ---- case (ASCII, Latin-1, Latin Extended-A, capital sharp s) ----------- */

static int cp_is_upper(uint32_t c)
{
	if (c >= 'A' && c <= 'Z')
		return 1;
	if (c >= 0xc0 && c <= 0xde && c != 0xd7)
		return 1;
	if (c == 0x1e9e || c == 0x178 || c == 0x130)
		return 1;
	if (c >= 0x100 && c <= 0x137)
		return (c & 1) == 0;
	if (c >= 0x139 && c <= 0x148)
		return (c & 1) == 1;
	if (c >= 0x14a && c <= 0x177)
		return (c & 1) == 0;
	if (c >= 0x179 && c <= 0x17e)
		return (c & 1) == 1;
	return 0;
}

static int cp_is_lower(uint32_t c)
{
	if (c >= 'a' && c <= 'z')
		return 1;
	if (c >= 0xdf && c <= 0xff && c != 0xf7)
		return 1;
	if (c == 0x131 || c == 0x138 || c == 0x149 || c == 0x17f)
		return 1;
	if (c >= 0x100 && c <= 0x137)
		return (c & 1) == 1;
	if (c >= 0x139 && c <= 0x148)
		return (c & 1) == 0;
	if (c >= 0x14a && c <= 0x177)
		return (c & 1) == 1;
	if (c >= 0x179 && c <= 0x17e)
		return (c & 1) == 0;
	return 0;
}

static uint32_t cp_lower(uint32_t c)
{
	if (!cp_is_upper(c))
		return c;
	if (c < 0x80)
		return c + 0x20;
	if (c <= 0xde)
		return c + 0x20;
	if (c == 0x1e9e)
		return 0xdf;
	if (c == 0x178)
		return 0xff;
	if (c == 0x130)
		return 'i';
	return c + 1;
}

static uint32_t cp_upper(uint32_t c)
{
	if (!cp_is_lower(c))
		return c;
	if (c < 0x80)
		return c - 0x20;
	if (c == 0xdf || c == 0x138 || c == 0x149 || c == 0x17f)
		return c; /* no single-letter capital in common use */
	if (c == 0xff)
		return 0x178;
	if (c == 0x131)
		return 'I';
	if (c <= 0xfe)
		return c - 0x20;
	return c - 1;
}

static int cp_is_letter(uint32_t c)
{
	return cp_is_upper(c) || cp_is_lower(c) ||
	       (c >= 0x370 && c != 0xfffd && c != 0x1e9e &&
		!(c >= 0x2000 && c <= 0x2bff) &&
		!(c >= 0x3000 && c <= 0x303f) &&
		!(c >= 0xfe00 && c <= 0xfe6f) && !(c >= 0xff00 && c <= 0xff0f));
}

/* ---- folding ------------------------------------------------------------ */

/* U+00C0..U+00FF; "" = separator (× ÷). */
static const char *const latin1_fold[64] = {
    "a", "a", "a",  "a", "ae", "a",  "ae", "c", "e",  "e",  "e",  "e", "i",
    "i", "i", "i",  "d", "n",  "o",  "o",  "o", "o",  "oe", "",	  "o", "u",
    "u", "u", "ue", "y", "th", "ss", "a",  "a", "a",  "a",  "ae", "a", "ae",
    "c", "e", "e",  "e", "e",  "i",  "i",  "i", "i",  "d",  "n",  "o", "o",
    "o", "o", "oe", "",	 "o",  "u",  "u",  "u", "ue", "y",  "th", "y",
};

/* U+0100..U+017F base letters; '1' = "ij", '2' = "oe". */
static const char latin_ext_a_fold[129] = "aaaaaaccccccccdd"
					  "ddeeeeeeeeeegggg"
					  "gggghhhhiiiiiiii"
					  "ii11jjkkklllllll"
					  "lllnnnnnnnnnoooo"
					  "oo22rrrrrrssssss"
					  "ssttttttuuuuuuuu"
					  "uuuuwwyyyzzzzzzs";

enum fold_kind {
	FK_TEXT, /* append out */
	FK_SEP,	 /* token boundary */
	FK_DROP, /* apostrophe: nothing, no boundary */
	FK_AMP,	 /* & + */
	FK_PASS, /* other script letter: copy UTF-8 */
};

static enum fold_kind fold_cp(uint32_t c, char tmp[4], const char **out,
			      size_t *olen)
{
	*olen = 1;
	if (c < 0x80) {
		if (is_digit((unsigned char)c) || (c >= 'a' && c <= 'z')) {
			tmp[0] = (char)c;
			*out = tmp;
			return FK_TEXT;
		}
		if (c >= 'A' && c <= 'Z') {
			tmp[0] = (char)(c + 0x20);
			*out = tmp;
			return FK_TEXT;
		}
		if (c == '\'' || c == '`')
			return FK_DROP;
		if (c == '&' || c == '+')
			return FK_AMP;
		return FK_SEP;
	}
	if (c >= 0xc0 && c <= 0xff) {
		*out = latin1_fold[c - 0xc0];
		*olen = strlen(*out);
		return *olen ? FK_TEXT : FK_SEP;
	}
	if (c >= 0x100 && c <= 0x17f) {
		char b = latin_ext_a_fold[c - 0x100];
		if (b == '1' || b == '2') {
			*out = b == '1' ? "ij" : "oe";
			*olen = 2;
		} else {
			tmp[0] = b;
			*out = tmp;
		}
		return FK_TEXT;
	}
	if (c == 0x1e9e) {
		*out = "ss";
		*olen = 2;
		return FK_TEXT;
	}
	if (c == 0xb4 || c == 0x2018 || c == 0x2019 || c == 0x201b)
		return FK_DROP;
	if (cp_is_letter(c))
		return FK_PASS;
	return FK_SEP;
}

#define MAX_TOKS 512
#define TOKBUF_CAP (3 * KT_NORM_TEXT_MAX + 16)

struct tok {
	uint16_t off, len; /* in toks.buf */
	uint16_t rs, re;   /* raw byte range */
};

struct toks {
	char buf[TOKBUF_CAP];
	size_t blen;
	struct tok t[MAX_TOKS];
	size_t n;
};

static void loosen(char *s, uint16_t *len)
{
	size_t w = 0;

	for (size_t r = 0; r < *len; r++) {
		s[w++] = s[r];
		if ((s[r] == 'a' || s[r] == 'o' || s[r] == 'u') &&
		    r + 1 < *len && s[r + 1] == 'e')
			r++;
	}
	*len = (uint16_t)w;
}

/*
 * Fold in[0..len) into tokens. '&'/'+' become a token "&" when amp is set,
 * else a boundary. Input must be at most KT_NORM_TEXT_MAX bytes.
 */
static int tokenize(const char *in, size_t len, int amp, int loose,
		    struct toks *tk)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0;
	int open = 0;

	tk->blen = 0;
	tk->n = 0;
	if (len > KT_NORM_TEXT_MAX)
		return KT_ERR_LIMIT;
	while (i < len) {
		size_t start = i;
		uint32_t c = s[i] < 0x80 ? s[i++] : u8_next(s, len, &i);
		char tmp[4];
		const char *f = NULL;
		size_t flen;
		enum fold_kind k = fold_cp(c, tmp, &f, &flen);

		if (k == FK_DROP)
			continue;
		if (k == FK_SEP || k == FK_AMP) {
			if (open && loose)
				loosen(tk->buf + tk->t[tk->n - 1].off,
				       &tk->t[tk->n - 1].len);
			if (open)
				tk->blen =
				    tk->t[tk->n - 1].off + tk->t[tk->n - 1].len;
			open = 0;
			if (k == FK_SEP || !amp)
				continue;
			if (tk->n >= MAX_TOKS || tk->blen + 1 > TOKBUF_CAP)
				return KT_ERR_LIMIT;
			tk->t[tk->n] =
			    (struct tok){(uint16_t)tk->blen, 1, (uint16_t)start,
					 (uint16_t)i};
			tk->buf[tk->blen++] = '&';
			tk->n++;
			continue;
		}
		if (k == FK_PASS) {
			f = in + start;
			flen = i - start;
		}
		if (!open) {
			if (tk->n >= MAX_TOKS)
				return KT_ERR_LIMIT;
			tk->t[tk->n] =
			    (struct tok){(uint16_t)tk->blen, 0, (uint16_t)start,
					 (uint16_t)i};
			tk->n++;
			open = 1;
		}
		if (tk->blen + flen > TOKBUF_CAP)
			return KT_ERR_LIMIT;
		memcpy(tk->buf + tk->blen, f, flen);
		tk->blen += flen;
		tk->t[tk->n - 1].len = (uint16_t)(tk->t[tk->n - 1].len + flen);
		tk->t[tk->n - 1].re = (uint16_t)i;
	}
	if (open && loose)
		loosen(tk->buf + tk->t[tk->n - 1].off, &tk->t[tk->n - 1].len);
	return KT_OK;
}

static int tok_is(const struct toks *tk, size_t i, const char *w)
{
	size_t n = strlen(w);

	return tk->t[i].len == n && memcmp(tk->buf + tk->t[i].off, w, n) == 0;
}

/* Token i equals one of the '|'-separated alternatives in pat. */
static int tok_match(const struct toks *tk, size_t i, const char *pat)
{
	const char *t = tk->buf + tk->t[i].off;
	size_t tl = tk->t[i].len;

	/* one pass over the alternatives: this runs for every pattern of
	 * the legal-form table on every imported name */
	for (;;) {
		size_t k = 0;

		while (k < tl && pat[k] == t[k])
			k++;
		if (k == tl && (pat[k] == '|' || pat[k] == '\0'))
			return 1;
		while (pat[k] != '|' && pat[k] != '\0')
			k++;
		if (pat[k] == '\0')
			return 0;
		pat += k + 1;
	}
}

/* Join tokens [a, b) with single spaces; '&' as "und" when amp. */
static void join_toks(const struct toks *tk, size_t a, size_t b, int amp,
		      struct sbuf *o)
{
	for (size_t i = a; i < b; i++) {
		if (o->len > 0)
			sb_putc(o, ' ');
		if (amp && tok_is(tk, i, "&"))
			sb_puts(o, "und");
		else
			sb_put(o, tk->buf + tk->t[i].off, tk->t[i].len);
	}
}

int kt_norm_fold(const char *in, size_t len, char *out, size_t cap,
		 unsigned flags)
{
	struct toks tk;
	struct sbuf o;
	int r;

	sb_init(&o, out, cap);
	if (cap == 0)
		return KT_ERR_LIMIT;
	if (!kt_utf8_valid(in, len))
		return KT_ERR_INVALID;
	if ((r = tokenize(in, len, (flags & KT_NORM_FOLD_AMP) != 0,
			  (flags & KT_NORM_FOLD_LOOSE) != 0, &tk)) != KT_OK)
		return r;
	join_toks(&tk, 0, tk.n, (flags & KT_NORM_FOLD_AMP) != 0, &o);
	return sb_result(&o);
}

/* ---- display ------------------------------------------------------------ */

static const char *const small_words[] = {
    "und", "u",	  "fuer", "für", "von", "vom", "van", "der", "die", "das",
    "den", "dem", "des",  "am",	 "an",	"im",  "in",  "zu",  "zur", "zum",
    "mit", "auf", "bei",  "aus", "de",	"du",  "di",  "la",  "le",  "et",
    "of",  "the", "and",  "for", "a",	"i",   "ob",  "vor", "an",  NULL,
};

static int is_small_word(const char *lower, size_t n)
{
	for (const char *const *w = small_words; *w; w++)
		if (strlen(*w) == n && memcmp(*w, lower, n) == 0)
			return 1;
	return 0;
}

/* Has no lower-case letter and at least two upper-case ones. */
static int all_caps(const char *s, size_t len)
{
	size_t i = 0, up = 0;

	while (i < len) {
		uint32_t c = u8_next((const unsigned char *)s, len, &i);
		if (cp_is_lower(c))
			return 0;
		if (cp_is_upper(c))
			up++;
	}
	return up >= 2;
}

/*
 * Capitalise the words of s[0..len) into o. keep_short keeps words of one
 * or two letters upper case (company abbreviations such as "IT").
 */
static void title_case(const char *s, size_t len, int keep_short,
		       struct sbuf *o)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, nword = 0;

	while (i < len) {
		size_t ws = i, we, j, nletters = 0, k = 0;
		int has_digit = 0;
		char lower[64];
		size_t ll = 0;
		uint32_t c = u8_next(u, len, &i);

		if (!cp_is_letter(c) && !is_digit((unsigned char)c)) {
			sb_put(o, s + ws, i - ws);
			continue;
		}
		/* extent of the word */
		we = i;
		j = ws;
		while (j < len) {
			size_t p = j;
			uint32_t d = u8_next(u, len, &j);
			if (!cp_is_letter(d) && !is_digit((unsigned char)d)) {
				j = p;
				break;
			}
			we = j;
			if (is_digit((unsigned char)d))
				has_digit = 1;
			else
				nletters++;
			if (ll + 4 < sizeof(lower))
				ll += u8_put(lower + ll, cp_lower(d));
		}
		i = we;
		nword++;
		if (has_digit || (keep_short && nletters <= 2 &&
				  !(nword > 1 && is_small_word(lower, ll)))) {
			sb_put(o, s + ws, we - ws);
			continue;
		}
		if (nword > 1 && is_small_word(lower, ll)) {
			sb_put(o, lower, ll);
			continue;
		}
		j = ws;
		while (j < we) {
			char buf[4];
			uint32_t d = u8_next(u, we, &j);
			d = (k++ == 0) ? cp_upper(d) : cp_lower(d);
			sb_put(o, buf, u8_put(buf, d));
		}
	}
}

/* Trim and collapse whitespace/controls of s[0..len) into a scratch buffer. */
static size_t collapse(const char *s, size_t len, char *out, size_t cap)
{
	size_t w = 0;
	int gap = 0;

	for (size_t i = 0; i < len && w + 2 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f || c == ' ') {
			gap = 1;
			continue;
		}
		/* U+00A0 no-break space */
		if (c == 0xc2 && i + 1 < len &&
		    (unsigned char)s[i + 1] == 0xa0) {
			i++;
			gap = 1;
			continue;
		}
		if (gap && w > 0)
			out[w++] = ' ';
		gap = 0;
		out[w++] = (char)c;
	}
	out[w] = '\0';
	return w;
}

static int display_n(const char *in, size_t len, int keep_short, struct sbuf *o)
{
	char tmp[KT_NORM_TEXT_MAX + 2];
	size_t n;

	if (len > KT_NORM_TEXT_MAX)
		return KT_ERR_LIMIT;
	if (!kt_utf8_valid(in, len))
		return KT_ERR_INVALID;
	n = collapse(in, len, tmp, sizeof(tmp));
	if (all_caps(tmp, n))
		title_case(tmp, n, keep_short, o);
	else
		sb_put(o, tmp, n);
	return sb_result(o);
}

int kt_norm_display(const char *in, char *out, size_t cap)
{
	struct sbuf o;

	sb_init(&o, out, cap);
	if (in == NULL)
		return KT_ERR_INVALID;
	return display_n(in, strnlen(in, KT_NORM_TEXT_MAX + 1), 1, &o);
}

/* ---- legal forms -------------------------------------------------------- */

static const struct {
	const char *code, *label, *reg;
} lf_info[KT_LF_COUNT] = {
    [KT_LF_NONE] = {"", "", ""},
    [KT_LF_GMBH] = {"GMBH", "GmbH", "HRB"},
    [KT_LF_GGMBH] = {"GGMBH", "gGmbH", "HRB"},
    [KT_LF_UG] = {"UG", "UG (haftungsbeschränkt)", "HRB"},
    [KT_LF_AG] = {"AG", "AG", "HRB"},
    [KT_LF_KGAA] = {"KGAA", "KGaA", "HRB"},
    [KT_LF_SE] = {"SE", "SE", "HRB"},
    [KT_LF_KG] = {"KG", "KG", "HRA"},
    [KT_LF_OHG] = {"OHG", "OHG", "HRA"},
    [KT_LF_GMBH_CO_KG] = {"GMBH_CO_KG", "GmbH & Co. KG", "HRA"},
    [KT_LF_EK] = {"EK", "e.K.", "HRA"},
    [KT_LF_EG] = {"EG", "eG", "GnR"},
    [KT_LF_EV] = {"EV", "e.V.", "VR"},
    [KT_LF_GBR] = {"GBR", "GbR", "GsR"},
    [KT_LF_PARTG] = {"PARTG", "PartG", "PR"},
    [KT_LF_EINZEL] = {"EINZEL", "Einzelunternehmen", ""},
    [KT_LF_STIFTUNG] = {"STIFTUNG", "Stiftung", ""},
    [KT_LF_KDOER] = {"KDOER", "KdöR", ""},
    [KT_LF_AOER] = {"AOER", "AöR", ""},
    [KT_LF_VVAG] = {"VVAG", "VVaG", "HRB"},
    [KT_LF_EWIV] = {"EWIV", "EWIV", "HRA"},
    [KT_LF_LTD] = {"LTD", "Ltd.", ""},
};

const char *kt_norm_lf_code(enum kt_lf lf)
{
	return ((int)lf >= 0 && lf < KT_LF_COUNT) ? lf_info[lf].code : "";
}

const char *kt_norm_lf_label(enum kt_lf lf)
{
	return ((int)lf >= 0 && lf < KT_LF_COUNT) ? lf_info[lf].label : "";
}

const char *kt_norm_lf_register(enum kt_lf lf)
{
	return ((int)lf >= 0 && lf < KT_LF_COUNT) ? lf_info[lf].reg : "";
}

int kt_norm_lf_from_code(const char *code, enum kt_lf *out)
{
	*out = KT_LF_NONE;
	if (code == NULL || *code == '\0')
		return KT_ERR_INVALID;
	for (int i = 1; i < KT_LF_COUNT; i++)
		if (strcmp(lf_info[i].code, code) == 0) {
			*out = (enum kt_lf)i;
			return KT_OK;
		}
	return KT_ERR_INVALID;
}

#define AMP "&|u|und"
#define CO "co|cie|compagnie"
#define BESCHR "beschraenkter|beschrankter"
#define HAFTB "haftungsbeschraenkt|haftungsbeschrankt|haftungsbeschr|hb"
#define OEFF "oeffentlichen|offentlichen"

struct lf_pattern {
	enum kt_lf lf;
	const char *display; /* the spelling shown in display names */
	const char *t[8];    /* folded tokens, '|' = or */
	size_t n;	     /* number of tokens */
};

/* {lf, display, {tokens...}, count}: the count is computed, not typed */
#define P(lf, disp, ...)                                                       \
	{                                                                      \
		lf, disp, {__VA_ARGS__},                                       \
		    sizeof((const char *[]){__VA_ARGS__}) /                    \
			sizeof(const char *)                                   \
	}

/* Every spelling of the reference table (section 6), as folded tokens. */
static const struct lf_pattern lf_patterns[] = {
    /* & Co. forms first: with "longest match wins" order does not matter,
     * but reading them together shows which capital company they name. */
    P(KT_LF_GMBH_CO_KG, "GmbH & Co. KG", "gmbh", AMP, CO,
      "kg|kommanditgesellschaft"),
    P(KT_LF_GMBH_CO_KG, "GmbH & Co. KG", "gmbh", CO, "kg"),
    P(KT_LF_GMBH_CO_KG, "GmbH & Co. KG", "gmbh", AMP, "cokg"),
    P(KT_LF_GMBH_CO_KG, "GmbH & Co. KG", "g", "m", "b", "h", AMP, CO, "kg"),
    P(KT_LF_GMBH_CO_KG, "mbH & Co. KG", "mbh", AMP, CO, "kg"),
    P(KT_LF_GMBH_CO_KG, "UG (haftungsbeschränkt) & Co. KG", "ug", HAFTB, AMP,
      CO, "kg"),
    P(KT_LF_GMBH_CO_KG, "UG (haftungsbeschränkt) & Co. KG", "ug", AMP, CO,
      "kg"),
    P(KT_LF_GMBH_CO_KG, "AG & Co. KG", "ag", AMP, CO, "kg"),
    P(KT_LF_GMBH_CO_KG, "SE & Co. KG", "se", AMP, CO, "kg"),
    P(KT_LF_GMBH_CO_KG, "Ltd. & Co. KG", "ltd", AMP, CO, "kg"),
    P(KT_LF_GMBH_CO_KG, "Stiftung & Co. KG", "stiftung", AMP, CO, "kg"),
    P(KT_LF_KGAA, "GmbH & Co. KGaA", "gmbh", AMP, CO, "kgaa"),
    P(KT_LF_KGAA, "AG & Co. KGaA", "ag", AMP, CO, "kgaa"),
    /* The reference lists "SE & Co. KGaA" under SE; kept as stated. */
    P(KT_LF_SE, "SE & Co. KGaA", "se", AMP, CO, "kgaa"),
    P(KT_LF_KGAA, "KGaA", "kgaa"),
    P(KT_LF_KGAA, "KGaA", "kommanditgesellschaft", "auf", "aktien"),
    P(KT_LF_SE, "SE", "se"),
    P(KT_LF_SE, "SE", "societas", "europaea"),
    P(KT_LF_SE, "SE", "europaeische|europaische", "gesellschaft"),
    P(KT_LF_GGMBH, "gGmbH", "ggmbh"),
    P(KT_LF_GGMBH, "gGmbH", "gemeinnuetzige|gemeinnutzige", "gmbh"),
    P(KT_LF_GGMBH, "gGmbH", "gemeinnuetzige|gemeinnutzige", "gesellschaft",
      "mit", BESCHR, "haftung"),
    P(KT_LF_GMBH, "GmbH", "gmbh"),
    P(KT_LF_GMBH, "GmbH", "gesmbh"),
    P(KT_LF_GMBH, "GmbH", "g", "m", "b", "h"),
    P(KT_LF_GMBH, "GmbH", "ges", "m", "b", "h"),
    P(KT_LF_GMBH, "GmbH", "gesellschaft", "mit", BESCHR, "haftung"),
    P(KT_LF_GMBH, "Gesellschaft mbH", "gesellschaft", "mbh"),
    P(KT_LF_GMBH, "mbH", "mbh"),
    P(KT_LF_UG, "UG (haftungsbeschränkt)", "ug", HAFTB),
    P(KT_LF_UG, "UG (haftungsbeschränkt)", "ug"),
    P(KT_LF_UG, "UG (haftungsbeschränkt)", "unternehmergesellschaft", HAFTB),
    P(KT_LF_UG, "UG (haftungsbeschränkt)", "unternehmergesellschaft"),
    P(KT_LF_AG, "AG", "ag"),
    P(KT_LF_AG, "AG", "aktiengesellschaft"),
    P(KT_LF_KG, "KG", "kg"),
    P(KT_LF_KG, "KG", "kommanditgesellschaft"),
    P(KT_LF_OHG, "OHG", "ohg"),
    P(KT_LF_OHG, "OHG", "o", "h", "g"),
    P(KT_LF_OHG, "OHG", "offene", "handelsgesellschaft"),
    P(KT_LF_EK, "e.K.", "e", "k"),
    P(KT_LF_EK, "e.K.", "ek"),
    P(KT_LF_EK, "e.Kfm.", "e", "kfm"),
    P(KT_LF_EK, "e.Kfr.", "e", "kfr"),
    P(KT_LF_EK, "e.Kfm.", "ekfm"),
    P(KT_LF_EK, "e.Kfr.", "ekfr"),
    P(KT_LF_EK, "e.K.", "eingetragener", "kaufmann"),
    P(KT_LF_EK, "e.K.", "eingetragene", "kauffrau"),
    P(KT_LF_EG, "eG", "e", "g"),
    P(KT_LF_EG, "eG", "eg"),
    P(KT_LF_EG, "eG", "eingetragene", "genossenschaft"),
    P(KT_LF_EV, "e.V.", "e", "v"),
    P(KT_LF_EV, "e.V.", "ev"),
    P(KT_LF_EV, "e.V.", "eingetragener", "verein"),
    P(KT_LF_GBR, "GbR", "gbr"),
    P(KT_LF_GBR, "eGbR", "egbr"),
    P(KT_LF_GBR, "GbR", "gesellschaft", "buergerlichen|burgerlichen", "rechts"),
    P(KT_LF_PARTG, "PartG", "partg"),
    P(KT_LF_PARTG, "PartG mbB", "partg", "mbb"),
    P(KT_LF_PARTG, "PartG mbB", "partgmbb"),
    P(KT_LF_PARTG, "Partnerschaftsgesellschaft", "partnerschaftsgesellschaft"),
    P(KT_LF_PARTG, "Partnerschaftsgesellschaft mbB",
      "partnerschaftsgesellschaft", "mbb"),
    P(KT_LF_PARTG, "Partnerschaftsgesellschaft mbB",
      "partnerschaftsgesellschaft", "mit", BESCHR, "berufshaftung"),
    P(KT_LF_PARTG, "Partnerschaft", "partnerschaft"),
    P(KT_LF_PARTG, "Partnerschaft mbB", "partnerschaft", "mbb"),
    P(KT_LF_PARTG, "& Partner", AMP, "partner"),
    P(KT_LF_PARTG, "& Partner mbB", AMP, "partner", "mbb"),
    P(KT_LF_STIFTUNG, "Stiftung", "stiftung"),
    P(KT_LF_KDOER, "KdöR", "kdoer|kdor"),
    P(KT_LF_KDOER, "KdöR", "k", "d", "oe|o", "r"),
    P(KT_LF_KDOER, "KdöR", "koerperschaft|korperschaft", "des", OEFF, "rechts"),
    P(KT_LF_AOER, "AöR", "aoer|aor"),
    P(KT_LF_AOER, "AöR", "a", "oe|o", "r"),
    P(KT_LF_AOER, "AöR", "anstalt", "des", OEFF, "rechts"),
    P(KT_LF_VVAG, "VVaG", "vvag"),
    P(KT_LF_VVAG, "VVaG", "v", "v", "a", "g"),
    P(KT_LF_VVAG, "VVaG", "versicherungsverein", "auf", "gegenseitigkeit"),
    P(KT_LF_EWIV, "EWIV", "ewiv"),
    P(KT_LF_LTD, "Ltd.", "ltd"),
    P(KT_LF_LTD, "Limited", "limited"),
};

#define N_LF_PATTERNS (sizeof(lf_patterns) / sizeof(lf_patterns[0]))

/* Words that only appear in a legal-form column, never at a name's end. */
static const struct {
	enum kt_lf lf;
	const char *word;
} lf_column_words[] = {
    {KT_LF_EINZEL, "einzelunternehmen|einzelunternehmer|"
		   "einzelunternehmerin|einzelfirma|einzelkaufmann|einzel|"
		   "kleingewerbe|kleingewerbetreibender"},
    {KT_LF_EG, "genossenschaft"},
    {KT_LF_EV, "verein"},
};

struct state_pattern {
	unsigned state;
	const char *display;
	const char *t[4];
};

static const struct state_pattern state_patterns[] = {
    {KT_NORM_STATE_LIQUIDATION, "i.L.", {"i", "l"}},
    {KT_NORM_STATE_LIQUIDATION, "i.L.", {"il"}},
    {KT_NORM_STATE_LIQUIDATION, "i.L.", {"in", "liquidation|liqu|liq"}},
    {KT_NORM_STATE_FORMATION, "i.G.", {"i", "g|gr|gruendung|grundung"}},
    {KT_NORM_STATE_FORMATION, "i.G.", {"in", "gruendung|grundung"}},
    {KT_NORM_STATE_INSOLVENCY, "in Insolvenz", {"in", "insolvenz"}},
    {KT_NORM_STATE_INSOLVENCY, "in Insolvenz", {"i", "i"}},
};

static size_t pat_len(const char *const *t, size_t max)
{
	size_t n = 0;

	while (n < max && t[n] != NULL)
		n++;
	return n;
}

/* Does the pattern t (length L) match tokens [e-L, e)? From the end: the
 * last word of a name rules out most patterns at once. */
static int pat_match_at(const struct toks *tk, size_t e, const char *const *t,
			size_t L)
{
	if (L > e)
		return 0;
	for (size_t k = L; k-- > 0;)
		if (!tok_match(tk, e - L + k, t[k]))
			return 0;
	return 1;
}

/*
 * Longest legal-form pattern ending at token e that leaves at least
 * min_left tokens before it. Returns its index or -1; *len its length.
 */
static int lf_find_end(const struct toks *tk, size_t e, size_t min_left,
		       size_t *len)
{
	int best = -1;
	size_t bl = 0;

	for (size_t p = 0; p < N_LF_PATTERNS; p++) {
		size_t L = lf_patterns[p].n;
		if (L <= bl || L + min_left > e)
			continue;
		if (pat_match_at(tk, e, lf_patterns[p].t, L)) {
			best = (int)p;
			bl = L;
		}
	}
	*len = bl;
	return best;
}

int kt_norm_legal_form(const char *text, enum kt_lf *out)
{
	struct toks tk;
	size_t len, L;
	int p;

	*out = KT_LF_NONE;
	if (text == NULL)
		return KT_OK;
	if (kt_norm_lf_from_code(text, out) == KT_OK)
		return KT_OK;
	len = strnlen(text, KT_NORM_TEXT_MAX + 1);
	if (len > KT_NORM_TEXT_MAX)
		return KT_ERR_LIMIT;
	if (!kt_utf8_valid(text, len))
		return KT_ERR_INVALID;
	if (tokenize(text, len, 1, 0, &tk) != KT_OK)
		return KT_ERR_INVALID;
	if (tk.n == 0)
		return KT_OK;
	p = lf_find_end(&tk, tk.n, 0, &L);
	if (p >= 0 && L == tk.n) {
		*out = lf_patterns[p].lf;
		return KT_OK;
	}
	if (tk.n == 1)
		for (size_t i = 0;
		     i < sizeof(lf_column_words) / sizeof(lf_column_words[0]);
		     i++)
			if (tok_match(&tk, 0, lf_column_words[i].word)) {
				*out = lf_column_words[i].lf;
				return KT_OK;
			}
	return KT_ERR_INVALID;
}

/* Raw prefix [0, end) without trailing spaces and separators. */
static size_t trim_raw_end(const char *raw, size_t end)
{
	while (end > 0) {
		unsigned char c = (unsigned char)raw[end - 1];
		if (is_space(c) || c == ',' || c == '-' || c == '(' ||
		    c == '/' || c == ';' || c == ':')
			end--;
		else
			break;
	}
	return end;
}

/* Key of tokens [a, b): '&'/"u" as "und", runs of single letters joined. */
static void name_key(const struct toks *tk, size_t a, size_t b, struct sbuf *o)
{
	int prev_single = 0;

	for (size_t i = a; i < b; i++) {
		int single = tk->t[i].len == 1 &&
			     is_alpha((unsigned char)tk->buf[tk->t[i].off]);
		int amp = tok_is(tk, i, "&") ||
			  (tok_is(tk, i, "u") && i > a && i + 1 < b);

		if (amp) {
			if (o->len > 0)
				sb_putc(o, ' ');
			sb_puts(o, "und");
			prev_single = 0;
			continue;
		}
		if (!(single && prev_single) && o->len > 0)
			sb_putc(o, ' ');
		sb_put(o, tk->buf + tk->t[i].off, tk->t[i].len);
		prev_single = single;
	}
}

static int is_quote_byte(unsigned char c)
{
	return c == '"';
}

int kt_norm_company_name(const char *raw, const char *lf_column,
			 struct kt_norm_company *out, struct kt_error *err)
{
	struct toks tk;
	struct sbuf d, k;
	size_t len, e, L, e_lf, inh = 0, base_end, key_start = 0, cut;
	int p_lf = -1, r, caps;
	unsigned state = 0;
	int p;
	char trimmed[KT_NORM_TEXT_MAX + 2];

	memset(out, 0, sizeof(*out));
	sb_init(&d, out->display, sizeof(out->display));
	sb_init(&k, out->key, sizeof(out->key));
	if (raw == NULL)
		return kt_error_set(err, KT_ERR_INVALID, "empty name");
	len = strnlen(raw, KT_NORM_TEXT_MAX + 1);
	if (len > KT_NORM_TEXT_MAX)
		return kt_error_set(err, KT_ERR_LIMIT,
				    "name longer than %d bytes",
				    KT_NORM_TEXT_MAX);
	if (!kt_utf8_valid(raw, len))
		return kt_error_set(err, KT_ERR_INVALID,
				    "name is not valid UTF-8");
	len = collapse(raw, len, trimmed, sizeof(trimmed));
	/* A name wrapped in quotes as a whole: "\"Müller GmbH\"". */
	if (len >= 2 && is_quote_byte((unsigned char)trimmed[0]) &&
	    is_quote_byte((unsigned char)trimmed[len - 1]) &&
	    memchr(trimmed + 1, '"', len - 2) == NULL) {
		memmove(trimmed, trimmed + 1, len - 2);
		len -= 2;
		trimmed[len] = '\0';
	}
	raw = trimmed;
	if ((r = tokenize(raw, len, 1, 0, &tk)) != KT_OK)
		return kt_error_set(err, r, "name has too many words");
	if (tk.n == 0)
		return kt_error_set(err, KT_ERR_INVALID, "empty name");
	caps = all_caps(raw, len);

	/* States at the very end, possibly several ("i.L." after "i.G."?). */
	e = tk.n;
	for (int again = 1; again;) {
		again = 0;
		for (size_t s = 0;
		     s < sizeof(state_patterns) / sizeof(state_patterns[0]);
		     s++) {
			L = pat_len(state_patterns[s].t, 4);
			if (L < e &&
			    pat_match_at(&tk, e, state_patterns[s].t, L)) {
				e -= L;
				state |= state_patterns[s].state;
				again = 1;
				break;
			}
		}
	}
	e_lf = e;
	p = lf_find_end(&tk, e, 1, &L);
	if (p >= 0) {
		p_lf = p;
		e_lf = e - L;
	}
	/* "Inh." introduces the owner of a sole trader's business. */
	for (size_t i = 1; i < e_lf; i++)
		if (tok_match(&tk, i, "inh|inhaber|inhaberin")) {
			inh = i;
			break;
		}
	base_end = inh ? inh : e_lf;
	if (p_lf < 0 && inh) {
		p = lf_find_end(&tk, base_end, 1, &L);
		if (p >= 0) {
			p_lf = p;
			base_end -= L;
		}
	}
	out->legal_form_in_name = p_lf >= 0 ? lf_patterns[p_lf].lf
				  : inh	    ? KT_LF_EINZEL
					    : KT_LF_NONE;
	out->state = state;

	if (lf_column != NULL && *lf_column != '\0') {
		if (kt_norm_legal_form(lf_column, &out->legal_form_column) !=
		    KT_OK)
			out->legal_form_column = KT_LF_NONE;
	}
	if (p_lf < 0 && inh && out->legal_form_column != KT_LF_NONE) {
		/* "Inh." only says there is an owner: an e.K. has one too,
		 * so a form stated in the column is more precise */
		out->legal_form = out->legal_form_column;
	} else if (out->legal_form_in_name != KT_LF_NONE) {
		out->legal_form = out->legal_form_in_name;
		out->legal_form_conflict =
		    out->legal_form_column != KT_LF_NONE &&
		    out->legal_form_column != out->legal_form_in_name;
	} else {
		out->legal_form = out->legal_form_column;
	}

	/* Key: base tokens without a leading "Fa."/"Firma". */
	if (base_end > 1 && tok_match(&tk, 0, "fa|firma"))
		key_start = 1;
	name_key(&tk, key_start, base_end, &k);

	/* Display: the raw base, then canonical spellings of what was cut. */
	cut = base_end < tk.n ? tk.t[base_end].rs : len;
	{
		size_t bend = trim_raw_end(raw, cut);
		int hyphen = 0;

		if (bend < cut) {
			for (size_t i = bend; i < cut; i++)
				if (raw[i] == '-')
					hyphen = 1;
		}
		if (caps)
			title_case(raw, bend, 1, &d);
		else
			sb_put(&d, raw, bend);
		if (p_lf >= 0) {
			sb_putc(&d, hyphen ? '-' : ' ');
			sb_puts(&d, lf_patterns[p_lf].display);
		} else if (out->legal_form != KT_LF_NONE &&
			   out->legal_form != KT_LF_EINZEL && !inh) {
			sb_putc(&d, ' ');
			sb_puts(&d, kt_norm_lf_label(out->legal_form));
		}
		if (inh) {
			size_t os = tk.t[inh].rs;
			size_t oe = tk.t[e_lf - 1].re;

			/* owner as written, from "Inh." to the last word */
			sb_putc(&d, ' ');
			if (caps) {
				sb_puts(&d, "Inh. ");
				if (inh + 1 < e_lf)
					title_case(raw + tk.t[inh + 1].rs,
						   oe - tk.t[inh + 1].rs, 0,
						   &d);
			} else {
				sb_put(&d, raw + os, oe - os);
			}
		}
		for (size_t s = 0;
		     s < sizeof(state_patterns) / sizeof(state_patterns[0]);
		     s++) {
			unsigned f = state_patterns[s].state;
			if ((state & f) &&
			    (s == 0 || state_patterns[s - 1].state != f)) {
				sb_putc(&d, ' ');
				sb_puts(&d, state_patterns[s].display);
			}
		}
	}
	if (k.len == 0) {
		/* Nothing but a legal form ("GmbH"): keep it as the key. */
		sb_init(&k, out->key, sizeof(out->key));
		join_toks(&tk, 0, tk.n, 1, &k);
	}
	if ((r = sb_result(&d)) != KT_OK || (r = sb_result(&k)) != KT_OK)
		return kt_error_set(err, r, "name too long");
	return KT_OK;
}

/* ---- postcodes ---------------------------------------------------------- */

int kt_norm_postcode(const char *in, enum kt_land land, int numeric,
		     char out[6], unsigned *flags, struct kt_error *err)
{
	char d[8];
	size_t a, b, n = 0;

	out[0] = '\0';
	*flags = 0;
	if (in == NULL)
		return kt_error_set(err, KT_ERR_INVALID, "empty postcode");
	b = strnlen(in, 64);
	a = 0;
	while (a < b && is_space((unsigned char)in[a]))
		a++;
	while (b > a && is_space((unsigned char)in[b - 1]))
		b--;
	if (a == b)
		return kt_error_set(err, KT_ERR_INVALID, "empty postcode");
	if (b - a > 3 && (in[a] == 'D' || in[a] == 'd') && in[a + 1] == '-')
		a += 2;
	else if (b - a > 4 && (in[a] == 'D' || in[a] == 'd') &&
		 (in[a + 1] == 'E' || in[a + 1] == 'e') && in[a + 2] == '-')
		a += 3;
	if (numeric && b - a > 2 && (in[b - 2] == '.' || in[b - 2] == ',') &&
	    in[b - 1] == '0') {
		b -= 2;
		*flags |= KT_NORM_PLZ_NUMBER;
	}
	for (size_t i = a; i < b; i++) {
		if (!is_digit((unsigned char)in[i]))
			return kt_error_set(err, KT_ERR_INVALID,
					    "postcode must be 5 digits");
		if (n >= 5)
			return kt_error_set(err, KT_ERR_INVALID,
					    "postcode has more than 5 digits");
		d[n++] = in[i];
	}
	if (n < 4)
		return kt_error_set(err, KT_ERR_INVALID,
				    "postcode has only %zu digits", n);
	if (n == 4) {
		/* A spreadsheet stored it as a number: 01067 -> 1067. */
		memmove(d + 1, d, 4);
		d[0] = '0';
		*flags |= KT_NORM_PLZ_PADDED;
		if (land != KT_LAND_NONE && !kt_land_has_zero_postcodes(land))
			*flags |= KT_NORM_PLZ_OFF_LAND;
	}
	if (d[0] == '0' && d[1] == '0')
		return kt_error_set(err, KT_ERR_INVALID,
				    "postcode zone 00 does not exist");
	memcpy(out, d, 5);
	out[5] = '\0';
	return KT_OK;
}

/* ---- streets and house numbers ------------------------------------------ */

/* A whitespace-separated word that can be (part of) a house number. */
static int numberish(const char *w, size_t n, int first)
{
	size_t i = 0;

	if (n == 1 && (w[0] == '-' || w[0] == '/'))
		return !first;
	if (n == 1 && is_alpha((unsigned char)w[0]))
		return !first;
	if (!first && n >= 2 && w[0] == '-' && is_digit((unsigned char)w[1])) {
		i = 1;
	}
	if (i >= n || !is_digit((unsigned char)w[i]))
		return 0;
	for (; i < n; i++) {
		unsigned char c = (unsigned char)w[i];
		if (!(is_digit(c) || is_alpha(c) || c == '-' || c == '/'))
			return 0;
	}
	/* at most two letters in a row ("12a", "4b-4c"): not "12Uhr" */
	for (i = 0; i + 2 < n; i++)
		if (is_alpha((unsigned char)w[i]) &&
		    is_alpha((unsigned char)w[i + 1]) &&
		    is_alpha((unsigned char)w[i + 2]))
			return 0;
	return 1;
}

int kt_norm_street_split(const char *in, char *street, size_t scap,
			 char *number, size_t ncap)
{
	char tmp[KT_NORM_TEXT_MAX + 2];
	size_t len, ws[128], we[128], nw = 0, i, cut = (size_t)-1;
	struct sbuf s, n;

	sb_init(&s, street, scap);
	sb_init(&n, number, ncap);
	if (in == NULL)
		return KT_OK;
	len = strnlen(in, KT_NORM_TEXT_MAX + 1);
	if (len > KT_NORM_TEXT_MAX)
		return KT_ERR_LIMIT;
	len = collapse(in, len, tmp, sizeof(tmp));
	for (i = 0; i < len && nw < 128;) {
		while (i < len && tmp[i] == ' ')
			i++;
		if (i >= len)
			break;
		ws[nw] = i;
		while (i < len && tmp[i] != ' ')
			i++;
		we[nw++] = i;
	}
	/* The house number is the longest tail of number-like words that
	 * starts with a digit, after at least one street word. */
	for (i = nw; i-- > 1;) {
		if (!numberish(tmp + ws[i], we[i] - ws[i], 0))
			break;
		if (is_digit((unsigned char)tmp[ws[i]]))
			cut = i;
	}
	if (cut != (size_t)-1) {
		size_t se = ws[cut];
		while (se > 0 && (tmp[se - 1] == ' ' || tmp[se - 1] == ','))
			se--;
		sb_put(&s, tmp, se);
		sb_put(&n, tmp + ws[cut], len - ws[cut]);
		return sb_result(&s) ? KT_ERR_LIMIT : sb_result(&n);
	}
	/* "Hauptstr.12": digits glued to the street word. */
	if (nw >= 1) {
		const char *w = tmp + ws[nw - 1];
		size_t wl = we[nw - 1] - ws[nw - 1];
		for (i = 1; i < wl; i++)
			if (is_digit((unsigned char)w[i]) &&
			    (w[i - 1] == '.' ||
			     is_alpha((unsigned char)w[i - 1])))
				break;
		if (i < wl && numberish(w + i, wl - i, 1) &&
		    (w[i - 1] == '.' || i >= 3)) {
			sb_put(&s, tmp, ws[nw - 1] + i);
			sb_put(&n, w + i, wl - i);
			return sb_result(&s) ? KT_ERR_LIMIT : sb_result(&n);
		}
	}
	sb_put(&s, tmp, len);
	return sb_result(&s);
}

static int ends_with(const char *t, size_t n, const char *suf, size_t *stem)
{
	size_t sl = strlen(suf);

	if (n <= sl || memcmp(t + n - sl, suf, sl) != 0)
		return 0;
	*stem = n - sl;
	return 1;
}

int kt_norm_street_key(const char *street, char *out, size_t cap)
{
	struct toks tk;
	struct sbuf o;
	size_t len, stem;
	int r;

	sb_init(&o, out, cap);
	if (street == NULL)
		return KT_OK;
	len = strnlen(street, KT_NORM_TEXT_MAX + 1);
	if (len > KT_NORM_TEXT_MAX)
		return KT_ERR_LIMIT;
	if (!kt_utf8_valid(street, len))
		return KT_ERR_INVALID;
	if ((r = tokenize(street, len, 0, 0, &tk)) != KT_OK)
		return r;
	for (size_t i = 0; i < tk.n; i++) {
		const char *t = tk.buf + tk.t[i].off;
		size_t n = tk.t[i].len;

		if (o.len > 0)
			sb_putc(&o, ' ');
		if (tok_match(&tk, i, "str|strasse|strase|strabe")) {
			sb_puts(&o, "str");
		} else if (ends_with(t, n, "strasse", &stem) ||
			   ends_with(t, n, "strase", &stem) ||
			   ends_with(t, n, "str", &stem)) {
			sb_put(&o, t, stem);
			sb_puts(&o, " str");
		} else if (tok_match(&tk, i, "pl|platz")) {
			sb_puts(&o, "platz");
		} else if (ends_with(t, n, "platz", &stem)) {
			sb_put(&o, t, stem);
			sb_puts(&o, " platz");
		} else if (tok_match(&tk, i, "st") && i + 1 < tk.n) {
			sb_puts(&o, "sankt");
		} else {
			sb_put(&o, t, n);
		}
	}
	return sb_result(&o);
}

int kt_norm_street_is_po_box(const char *street)
{
	char key[64];

	if (street == NULL)
		return 0;
	if (kt_norm_fold(street, strnlen(street, 48), key, sizeof(key), 0) !=
	    KT_OK)
		return 0;
	return strncmp(key, "postfach", 8) == 0 ||
	       strncmp(key, "pf ", 3) == 0 || strcmp(key, "pf") == 0;
}

int kt_norm_house_number(const char *in, char *out, size_t cap,
			 struct kt_error *err)
{
	struct sbuf o;
	char tmp[128];
	size_t len, i = 0;
	int prev_num = 0;

	sb_init(&o, out, cap);
	if (in == NULL)
		return kt_error_set(err, KT_ERR_INVALID, "empty house number");
	len = strnlen(in, 64);
	if (len >= 64)
		return kt_error_set(err, KT_ERR_LIMIT,
				    "house number longer than 63 bytes");
	len = collapse(in, len, tmp, sizeof(tmp));
	while (i < len) {
		size_t s = i, n;
		char c;

		while (i < len && tmp[i] != ' ')
			i++;
		n = i - s;
		if (i < len)
			i++;
		c = tmp[s];
		/* "16 c", "4 - 8", "4 -8", "12 / 1": glue; "12 1/2": keep. */
		if (o.len > 0 &&
		    !((n == 1 && is_alpha((unsigned char)c)) || c == '-' ||
		      c == '/' || o.p[o.len - 1] == '-' ||
		      o.p[o.len - 1] == '/'))
			sb_putc(&o, ' ');
		for (size_t k = 0; k < n; k++)
			sb_putc(&o, ascii_lower(tmp[s + k]));
		prev_num = is_digit((unsigned char)c);
	}
	(void)prev_num;
	if (o.overflow)
		return kt_error_set(err, KT_ERR_LIMIT, "house number too long");
	if (o.len == 0)
		return kt_error_set(err, KT_ERR_INVALID, "empty house number");
	if (!is_digit((unsigned char)o.p[0]))
		return kt_error_set(err, KT_ERR_INVALID,
				    "house number must start with a digit");
	for (i = 0; i < o.len; i++) {
		unsigned char c = (unsigned char)o.p[i];
		if (!(is_digit(c) || (c >= 'a' && c <= 'z') || c == '-' ||
		      c == '/' || c == ' '))
			return kt_error_set(err, KT_ERR_INVALID,
					    "house number contains '%c'",
					    c >= 0x20 && c < 0x7f ? c : '?');
	}
	return KT_OK;
}

int kt_norm_city_key(const char *city, char *out, size_t cap)
{
	struct toks tk;
	struct sbuf o;
	size_t len;
	int r;
	static const struct {
		const char *from, *to;
	} alias[] = {
	    {"frankfurt main", "frankfurt am main"},
	    {"frankfurt m", "frankfurt am main"},
	    {"frankfurt am m", "frankfurt am main"},
	    {"freiburg im br", "freiburg im breisgau"},
	    {"freiburg breisgau", "freiburg im breisgau"},
	    {"frankfurt o", "frankfurt oder"},
	    {"frankfurt an der oder", "frankfurt oder"},
	    {"halle an der saale", "halle saale"},
	    {"halle s", "halle saale"},
	};

	sb_init(&o, out, cap);
	if (city == NULL)
		return KT_OK;
	len = strnlen(city, KT_NORM_TEXT_MAX + 1);
	if (len > KT_NORM_TEXT_MAX)
		return KT_ERR_LIMIT;
	if (!kt_utf8_valid(city, len))
		return KT_ERR_INVALID;
	if ((r = tokenize(city, len, 0, 0, &tk)) != KT_OK)
		return r;
	for (size_t i = 0; i < tk.n; i++) {
		if (o.len > 0)
			sb_putc(&o, ' ');
		if (i > 0 && i + 1 < tk.n && tok_match(&tk, i, "a|i") &&
		    tok_is(&tk, i + 1, "d")) {
			sb_puts(&o, tok_is(&tk, i, "a") ? "an der" : "in der");
			i++;
		} else if (i > 0 && i + 1 < tk.n && tok_is(&tk, i, "a")) {
			sb_puts(&o, "am");
		} else if (i > 0 && i + 1 < tk.n && tok_is(&tk, i, "i")) {
			sb_puts(&o, "im");
		} else if (i > 0 && i + 1 < tk.n && tok_is(&tk, i, "b")) {
			sb_puts(&o, "bei");
		} else if (i == 0 && i + 1 < tk.n && tok_is(&tk, i, "st")) {
			sb_puts(&o, "sankt");
		} else {
			sb_put(&o, tk.buf + tk.t[i].off, tk.t[i].len);
		}
	}
	if (o.overflow)
		return KT_ERR_LIMIT;
	for (size_t a = 0; a < sizeof(alias) / sizeof(alias[0]); a++)
		if (strcmp(out, alias[a].from) == 0) {
			sb_init(&o, out, cap);
			sb_puts(&o, alias[a].to);
			break;
		}
	return sb_result(&o);
}

int kt_norm_address_line(const char *in, struct kt_norm_address *out,
			 struct kt_error *err)
{
	char tmp[KT_NORM_TEXT_MAX + 2];
	size_t len, i, ps = 0, pe = 0, cs, ce;
	int found = 0;
	struct sbuf b;

	memset(out, 0, sizeof(*out));
	if (in == NULL)
		return kt_error_set(err, KT_ERR_INVALID, "empty address");
	len = strnlen(in, KT_NORM_TEXT_MAX + 1);
	if (len > KT_NORM_TEXT_MAX)
		return kt_error_set(err, KT_ERR_LIMIT, "address too long");
	len = collapse(in, len, tmp, sizeof(tmp));
	/* The last run of 4-5 digits (optionally "D-") that starts a word
	 * and is followed by a space and a letter: postcode and city. */
	for (i = 0; i < len; i++) {
		size_t s = i, d;
		if (i > 0 && tmp[i - 1] != ' ' && tmp[i - 1] != ',')
			continue;
		if (i + 2 < len && (tmp[i] == 'D' || tmp[i] == 'd') &&
		    tmp[i + 1] == '-')
			s = i + 2;
		d = s;
		while (d < len && is_digit((unsigned char)tmp[d]))
			d++;
		if (d - s < 4 || d - s > 5)
			continue;
		if (d + 1 >= len || tmp[d] != ' ' ||
		    is_digit((unsigned char)tmp[d + 1]))
			continue;
		ps = i;
		pe = d;
		found = 1;
	}
	if (!found)
		return kt_error_set(err, KT_ERR_INVALID,
				    "no postcode and city found");
	/* postcode */
	{
		size_t s = ps;
		if (tmp[s] == 'D' || tmp[s] == 'd')
			s += 2;
		sb_init(&b, out->postcode, sizeof(out->postcode));
		sb_put(&b, tmp + s, pe - s);
	}
	/* city: up to the next comma or the end */
	cs = pe + 1;
	ce = cs;
	while (ce < len && tmp[ce] != ',')
		ce++;
	{
		size_t e = ce;
		while (e > cs && (tmp[e - 1] == ' ' || tmp[e - 1] == '.'))
			e--;
		sb_init(&b, out->city, sizeof(out->city));
		sb_put(&b, tmp + cs, e - cs);
	}
	/* street: before the postcode, or after the city */
	{
		size_t ss = 0, se = ps;
		char street[KT_NORM_TEXT_MAX + 2];
		struct sbuf sb;

		if (ps == 0 || trim_raw_end(tmp, ps) == 0) {
			ss = ce;
			while (ss < len && (tmp[ss] == ',' || tmp[ss] == ' '))
				ss++;
			se = len;
		}
		while (se > ss && (tmp[se - 1] == ' ' || tmp[se - 1] == ','))
			se--;
		sb_init(&sb, street, sizeof(street));
		sb_put(&sb, tmp + ss, se - ss);
		if (kt_norm_street_split(street, out->street,
					 sizeof(out->street), out->house_number,
					 sizeof(out->house_number)) != KT_OK)
			return kt_error_set(err, KT_ERR_LIMIT,
					    "address too long");
	}
	return KT_OK;
}

/* ---- e-mail ------------------------------------------------------------- */

static int atext(unsigned char c)
{
	return is_digit(c) || is_alpha(c) ||
	       (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

int kt_norm_email(const char *in, char *out, size_t cap, struct kt_error *err)
{
	size_t a, b, at = 0, nat = 0, i, lab, dl;
	char buf[KT_NORM_EMAIL_MAX + 8];
	size_t n;

	if (cap > 0)
		out[0] = '\0';
	if (in == NULL)
		return kt_error_set(err, KT_ERR_INVALID,
				    "empty e-mail address");
	b = strnlen(in, 4 * KT_NORM_EMAIL_MAX);
	a = 0;
	while (a < b && is_space((unsigned char)in[a]))
		a++;
	while (b > a && is_space((unsigned char)in[b - 1]))
		b--;
	if (b - a >= 7 && strncasecmp(in + a, "mailto:", 7) == 0)
		a += 7;
	if (b - a >= 2 && in[a] == '<' && in[b - 1] == '>') {
		a++;
		b--;
	}
	if (a == b)
		return kt_error_set(err, KT_ERR_INVALID,
				    "empty e-mail address");
	if (b - a > KT_NORM_EMAIL_MAX)
		return kt_error_set(err, KT_ERR_INVALID,
				    "e-mail address longer than %d characters",
				    KT_NORM_EMAIL_MAX);
	n = b - a;
	memcpy(buf, in + a, n);
	buf[n] = '\0';
	for (i = 0; i < n; i++)
		if (buf[i] == '@') {
			at = i;
			nat++;
		}
	/* domain to lower case (ASCII; UTF-8 letters left as they are) */
	if (nat == 1)
		for (i = at + 1; i < n; i++)
			buf[i] = ascii_lower(buf[i]);
	if (cap > 0) {
		size_t c = n < cap - 1 ? n : cap - 1;
		memcpy(out, buf, c);
		out[c] = '\0';
	}
	if (n >= cap)
		return kt_error_set(err, KT_ERR_LIMIT,
				    "e-mail address too long");
	if (nat == 0)
		return kt_error_set(err, KT_ERR_INVALID, "missing '@'");
	if (nat > 1)
		return kt_error_set(err, KT_ERR_INVALID, "more than one '@'");
	if (at == 0)
		return kt_error_set(err, KT_ERR_INVALID, "empty local part");
	if (at > 64)
		return kt_error_set(err, KT_ERR_INVALID,
				    "local part longer than 64 characters");
	for (i = 0; i < at; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c == '.') {
			if (i == 0 || i + 1 == at)
				return kt_error_set(
				    err, KT_ERR_INVALID,
				    "local part starts or ends with a dot");
			if (buf[i + 1] == '.')
				return kt_error_set(err, KT_ERR_INVALID,
						    "two dots in a row");
			continue;
		}
		if (!atext(c))
			return kt_error_set(
			    err, KT_ERR_INVALID,
			    "invalid character '%c' in the local part",
			    c >= 0x20 && c < 0x7f ? c : '?');
	}
	dl = n - at - 1;
	if (dl == 0)
		return kt_error_set(err, KT_ERR_INVALID, "empty domain");
	if (dl > 253)
		return kt_error_set(err, KT_ERR_INVALID,
				    "domain longer than 253 characters");
	if (!kt_utf8_valid(buf + at + 1, dl))
		return kt_error_set(err, KT_ERR_INVALID,
				    "domain is not valid UTF-8");
	{
		const char *d = buf + at + 1;
		size_t labels = 0, ls = 0, tld_s = 0;

		for (i = 0; i <= dl; i++) {
			if (i < dl && d[i] != '.')
				continue;
			lab = i - ls;
			if (lab == 0)
				return kt_error_set(
				    err, KT_ERR_INVALID,
				    "empty label in the domain");
			if (lab > 63)
				return kt_error_set(
				    err, KT_ERR_INVALID,
				    "domain label longer than 63 characters");
			if (d[ls] == '-' || d[i - 1] == '-')
				return kt_error_set(
				    err, KT_ERR_INVALID,
				    "domain label starts or ends with '-'");
			for (size_t k = ls; k < i; k++) {
				unsigned char c = (unsigned char)d[k];
				if (!(is_digit(c) || (c >= 'a' && c <= 'z') ||
				      c == '-' || c >= 0x80))
					return kt_error_set(
					    err, KT_ERR_INVALID,
					    "invalid character '%c' in the "
					    "domain",
					    c >= 0x20 && c < 0x7f ? c : '?');
			}
			labels++;
			tld_s = ls;
			ls = i + 1;
		}
		if (labels < 2)
			return kt_error_set(err, KT_ERR_INVALID,
					    "domain has no dot");
		if (strncmp(d + tld_s, "xn--", 4) != 0) {
			if (dl - tld_s < 2)
				return kt_error_set(
				    err, KT_ERR_INVALID,
				    "top-level domain too short");
			for (size_t k = tld_s; k < dl; k++)
				if (is_digit((unsigned char)d[k]) ||
				    d[k] == '-')
					return kt_error_set(
					    err, KT_ERR_INVALID,
					    "top-level domain must be letters");
		}
	}
	return KT_OK;
}

/* ---- persons ------------------------------------------------------------ */

int kt_norm_person_name(const char *in, char *display, size_t dcap, char *key,
			size_t kcap)
{
	char tmp[KT_NORM_TEXT_MAX + 2], ordered[KT_NORM_TEXT_MAX + 4];
	size_t len, comma = (size_t)-1, n = 0;
	struct sbuf d, k, ob;
	struct toks tk;
	int r, caps, lower = 1;

	sb_init(&d, display, dcap);
	sb_init(&k, key, kcap);
	if (in == NULL)
		return KT_OK;
	len = strnlen(in, KT_NORM_TEXT_MAX + 1);
	if (len > KT_NORM_TEXT_MAX)
		return KT_ERR_LIMIT;
	if (!kt_utf8_valid(in, len))
		return KT_ERR_INVALID;
	len = collapse(in, len, tmp, sizeof(tmp));
	for (size_t i = 0; i < len; i++)
		if (tmp[i] == ',') {
			comma = i;
			break;
		}
	/* "Müller, Hans" -> "Hans Müller" (one comma only). */
	sb_init(&ob, ordered, sizeof(ordered));
	if (comma != (size_t)-1 &&
	    memchr(tmp + comma + 1, ',', len - comma - 1) == NULL) {
		size_t s = comma + 1;
		while (s < len && tmp[s] == ' ')
			s++;
		sb_put(&ob, tmp + s, len - s);
		if (ob.len > 0)
			sb_putc(&ob, ' ');
		sb_put(&ob, tmp, comma);
	} else {
		sb_put(&ob, tmp, len);
	}
	n = ob.len;
	if ((r = tokenize(ordered, n, 0, 0, &tk)) != KT_OK)
		return r;
	/* Display: without salutations; capitalised if ALL CAPS or all lower
	 * case (a person's name always has capitals). */
	caps = all_caps(ordered, n);
	{
		size_t i = 0;
		while (i < n) {
			uint32_t c = u8_next((unsigned char *)ordered, n, &i);
			if (cp_is_upper(c)) {
				lower = 0;
				break;
			}
		}
	}
	{
		size_t start = 0;
		for (size_t i = 0; i < tk.n; i++) {
			if (!tok_match(&tk, i, "herr|frau|hr|fr|herrn"))
				break;
			start = tk.t[i].re;
			if (start < n && ordered[start] == '.')
				start++;
		}
		while (start < n && ordered[start] == ' ')
			start++;
		if (caps || lower)
			title_case(ordered + start, n - start, 0, &d);
		else
			sb_put(&d, ordered + start, n - start);
	}
	/* Key: without salutations and titles. */
	for (size_t i = 0; i < tk.n; i++) {
		if (tok_match(&tk, i,
			      "herr|frau|hr|fr|herrn|dr|prof|dipl|ing|kfm|"
			      "kffr|med|rer|nat|pol|phil|jur|oec|mba|msc|bsc|"
			      "llm|mag|habil"))
			continue;
		if (k.len > 0)
			sb_putc(&k, ' ');
		sb_put(&k, tk.buf + tk.t[i].off, tk.t[i].len);
	}
	if ((r = sb_result(&d)) != KT_OK)
		return r;
	return sb_result(&k);
}
