#ifndef KONTOR_PHONETIC_H
#define KONTOR_PHONETIC_H

/*
 * Kölner Phonetik (Cologne phonetics, H. J. Postel 1969): a phonetic key
 * for German words, so that "Meyer", "Maier" and "Mayr" share one code
 * (67). Used as a blocking key: names that sound alike land in one block
 * even when spelled differently.
 *
 * Input is UTF-8. Letters are folded to A-Z first: ä, ö, ü to A, O, U
 * (vowels), ß and ẞ to S, other Latin-1 letters with diacritics to their
 * base letter. Every other character separates words: the rules that look
 * at the previous or next letter, or at the start of a word ("im Anlaut"),
 * never look across a separator. Digits and separators produce no code.
 *
 * Three steps, per the published rules:
 *   1. each letter gets its code (H none, X two digits "48");
 *   2. runs of the same digit collapse to one;
 *   3. every "0" is removed except a leading one.
 * "Müller-Lüdenscheidt": step 1 gives 60550750206880022, step 2
 * 6050750206802, step 3 65752682.
 */

#include <stddef.h>

/* Most input bytes accepted; longer input is KT_ERR_LIMIT. */
#define KT_PHONETIC_MAX_INPUT 4096

/*
 * The final key (step 3) as a NUL-terminated digit string in out (capacity
 * cap). KT_OK; KT_ERR_INVALID if s is not valid UTF-8; KT_ERR_LIMIT if s is
 * longer than KT_PHONETIC_MAX_INPUT bytes or the code does not fit in cap.
 * An input without letters gives the empty string.
 */
int kt_phonetic_cologne(const char *s, char *out, size_t cap);

/* The digit string after step 1 only (letter codes, nothing merged). */
int kt_phonetic_cologne_raw(const char *s, char *out, size_t cap);

#endif
