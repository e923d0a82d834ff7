#include <string.h>

#include "kontor/err.h"
#include "kontor/phonetic.h"
#include "kontor/strsim.h"
#include "kontor/util.h"

/*
 * Fold one code point to an upper-case letter A-Z, or 0 for a separator.
 * Latin-1 letters with diacritics keep their base letter, because the
 * legacy exports write "Müller", "Muller" and "MUELLER" for one name.
 */
static char fold_letter(uint32_t c)
{
	/* U+00C0..U+00FF, lower and upper case share a row (index & 0x1f). */
	static const char latin1[32] = {
	    'A', 'A', 'A', 'A', 'A', 'A', 'A', 'C', 'E', 'E', 'E',
	    'E', 'I', 'I', 'I', 'I', 'D', 'N', 'O', 'O', 'O', 'O',
	    'O', 0,   'O', 'U', 'U', 'U', 'U', 'Y', 'T', 'S',
	};

	if (c >= 'a' && c <= 'z')
		return (char)(c - 'a' + 'A');
	if (c >= 'A' && c <= 'Z')
		return (char)c;
	if (c == 0xff)
		return 'Y';
	if (c == 0xf7)
		return 0; /* division sign */
	if (c >= 0xc0 && c <= 0xff)
		return latin1[c & 0x1f]; /* 0xd7/0xdf: multiplication sign, ß */
	if (c == 0x1e9e)
		return 'S'; /* capital sharp s */
	if (c == 0x152 || c == 0x153)
		return 'O'; /* Œ œ */
	return 0;
}

static int in(char c, const char *set)
{
	return c != 0 && strchr(set, c) != NULL;
}

/* Code of letter cur between prev and next (0 = separator or none). */
static const char *letter_code(char prev, char cur, char next)
{
	switch (cur) {
	case 'A':
	case 'E':
	case 'I':
	case 'J':
	case 'O':
	case 'U':
	case 'Y':
		return "0";
	case 'H':
		return "";
	case 'B':
		return "1";
	case 'P':
		return next == 'H' ? "3" : "1";
	case 'D':
	case 'T':
		return in(next, "CSZ") ? "8" : "2";
	case 'F':
	case 'V':
	case 'W':
		return "3";
	case 'G':
	case 'K':
	case 'Q':
		return "4";
	case 'C':
		if (prev == 0) /* im Anlaut */
			return in(next, "AHKLOQRUX") ? "4" : "8";
		if (in(prev, "SZ"))
			return "8";
		return in(next, "AHKOQUX") ? "4" : "8";
	case 'X':
		return in(prev, "CKQ") ? "8" : "48";
	case 'L':
		return "5";
	case 'M':
	case 'N':
		return "6";
	case 'R':
		return "7";
	case 'S':
	case 'Z':
		return "8";
	default:
		return "";
	}
}

static int cologne_raw(const char *s, char *out, size_t cap)
{
	uint32_t cp[KT_PHONETIC_MAX_INPUT];
	size_t n = strlen(s), ncp, k = 0;

	if (cap == 0)
		return KT_ERR_LIMIT;
	out[0] = '\0';
	if (n > KT_PHONETIC_MAX_INPUT)
		return KT_ERR_LIMIT;
	if (!kt_utf8_valid(s, n))
		return KT_ERR_INVALID;
	ncp = kt_strsim_decode(s, n, cp, KT_PHONETIC_MAX_INPUT);
	for (size_t i = 0; i < ncp; i++) {
		char cur = fold_letter(cp[i]);
		char prev = i > 0 ? fold_letter(cp[i - 1]) : 0;
		char next = i + 1 < ncp ? fold_letter(cp[i + 1]) : 0;
		const char *code;
		size_t len;

		if (cur == 0)
			continue;
		code = letter_code(prev, cur, next);
		len = strlen(code);
		if (k + len + 1 > cap) {
			out[0] = '\0';
			return KT_ERR_LIMIT;
		}
		memcpy(out + k, code, len);
		k += len;
	}
	out[k] = '\0';
	return KT_OK;
}

int kt_phonetic_cologne_raw(const char *s, char *out, size_t cap)
{
	return cologne_raw(s, out, cap);
}

int kt_phonetic_cologne(const char *s, char *out, size_t cap)
{
	char raw[2 * KT_PHONETIC_MAX_INPUT + 1];
	char last = 0;
	size_t k = 0;
	int r;

	if (cap == 0)
		return KT_ERR_LIMIT;
	out[0] = '\0';
	r = cologne_raw(s, raw, sizeof(raw));
	if (r != KT_OK)
		return r;
	for (const char *p = raw; *p != '\0'; p++) {
		/* Collapse first, then drop zeros: a vowel between two equal
		 * consonants keeps both ("Müller" 6-0-5-5-0-7 -> 657). */
		if (*p == last)
			continue;
		last = *p;
		if (*p == '0' && p != raw)
			continue;
		if (k + 2 > cap) {
			out[0] = '\0';
			return KT_ERR_LIMIT;
		}
		out[k++] = *p;
	}
	out[k] = '\0';
	return KT_OK;
}
