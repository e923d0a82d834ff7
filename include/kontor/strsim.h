#ifndef KONTOR_STRSIM_H
#define KONTOR_STRSIM_H

/*
 * String similarity for record linkage: Jaro-Winkler and bounded
 * Levenshtein on Unicode code points (so that "Müller" and "Muller" differ
 * by one character, not two bytes), and set similarity over hashed
 * whitespace tokens or character n-grams.
 *
 * Every function is pure and thread-safe. Strings longer than
 * KT_STRSIM_MAX_CP code points are compared on their first
 * KT_STRSIM_MAX_CP code points: the bound keeps the work per pair and the
 * stack use fixed, whatever the input.
 */

#include <stddef.h>
#include <stdint.h>

#define KT_STRSIM_MAX_CP 256
/* Most tokens/n-grams one string contributes to a set. */
#define KT_STRSIM_MAX_SET 512

/*
 * Decode n bytes of UTF-8 into at most cap code points; each invalid byte
 * becomes U+FFFD (so garbage still compares, but never equal to a letter).
 * Returns the number of code points written.
 */
size_t kt_strsim_decode(const char *s, size_t n, uint32_t *out, size_t cap);

/* Jaro similarity in [0, 1]; two empty strings are identical (1). */
double kt_strsim_jaro_cp(const uint32_t *a, size_t na, const uint32_t *b,
			 size_t nb);

/*
 * Jaro-Winkler with prefix scale 0.1 over at most 4 common leading code
 * points, applied only when the Jaro similarity exceeds 0.7 (Winkler's
 * boost threshold).
 */
double kt_strsim_jaro_winkler_cp(const uint32_t *a, size_t na,
				 const uint32_t *b, size_t nb);
/* The same on NUL-terminated UTF-8. */
double kt_strsim_jaro_winkler(const char *a, const char *b);

/*
 * Levenshtein distance (insert, delete, substitute one code point), but
 * never more than bound + 1: the computation stops as soon as the distance
 * must exceed bound, which is what makes "distance <= 2?" cheap.
 */
unsigned kt_strsim_levenshtein_cp(const uint32_t *a, size_t na,
				  const uint32_t *b, size_t nb, unsigned bound);
unsigned kt_strsim_levenshtein(const char *a, const char *b, unsigned bound);

/*
 * The set of whitespace-separated tokens of the n bytes at s, as sorted,
 * de-duplicated 32-bit hashes; at most cap of them (the first tokens win).
 * Returns the set size.
 */
size_t kt_strsim_tokens(const char *s, size_t n, uint32_t *out, size_t cap);

/*
 * The set of code-point q-grams (2 <= q <= 5) of the n bytes at s, padded
 * with one start and one end marker so that short strings and first/last
 * letters count; sorted, de-duplicated 32-bit hashes, at most cap. A string
 * shorter than q - 2 code points yields the one padded gram. Returns the set
 * size, 0 for an empty string or a q out of range.
 */
size_t kt_strsim_ngrams(const char *s, size_t n, unsigned q, uint32_t *out,
			size_t cap);

/* |A ∩ B| of two sorted, de-duplicated sets. */
size_t kt_strsim_set_common(const uint32_t *a, size_t na, const uint32_t *b,
			    size_t nb);
/* |A ∩ B| / |A ∪ B|; 1 when both are empty, 0 when only one is. */
double kt_strsim_set_jaccard(const uint32_t *a, size_t na, const uint32_t *b,
			     size_t nb);
/* |A ∩ B| / min(|A|, |B|): 1 when one set contains the other. */
double kt_strsim_set_containment(const uint32_t *a, size_t na,
				 const uint32_t *b, size_t nb);

/* Token-set Jaccard / containment of two NUL-terminated strings. */
double kt_strsim_token_jaccard(const char *a, const char *b);
double kt_strsim_token_containment(const char *a, const char *b);

#endif
