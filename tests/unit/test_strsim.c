#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kontor/strsim.h"

#define EPS 0.0005

static void test_decode(void **state)
{
	uint32_t cp[16];

	/* "Mü€𝄞" : 1-, 2-, 3- and 4-byte sequences. */
	assert_int_equal(
	    kt_strsim_decode("M\xc3\xbc\xe2\x82\xac\xf0\x9d\x84\x9e", 10, cp,
			     16),
	    4);
	assert_int_equal(cp[0], 'M');
	assert_int_equal(cp[1], 0xfc);
	assert_int_equal(cp[2], 0x20ac);
	assert_int_equal(cp[3], 0x1d11e);
	/* Invalid bytes, overlong forms, surrogates and truncation each
	 * become U+FFFD, one per byte, and decoding resumes. */
	assert_int_equal(kt_strsim_decode("a\xff"
					  "b",
					  3, cp, 16),
			 3);
	assert_int_equal(cp[1], 0xfffd);
	assert_int_equal(cp[2], 'b');
	assert_int_equal(kt_strsim_decode("\xc0\xaf", 2, cp, 16), 2);
	assert_int_equal(cp[0], 0xfffd);
	assert_int_equal(kt_strsim_decode("\xed\xa0\x80", 3, cp, 16), 3);
	assert_int_equal(kt_strsim_decode("\xc3", 1, cp, 16), 1);
	assert_int_equal(cp[0], 0xfffd);
	/* The capacity bounds the output. */
	assert_int_equal(kt_strsim_decode("abcdef", 6, cp, 4), 4);
}

static void test_jaro_winkler_vectors(void **state)
{
	/* Winkler's classic examples. */
	assert_float_equal(kt_strsim_jaro_winkler("MARTHA", "MARHTA"), 0.9611,
			   EPS);
	assert_float_equal(kt_strsim_jaro_winkler("DWAYNE", "DUANE"), 0.84,
			   EPS);
	assert_float_equal(kt_strsim_jaro_winkler("DIXON", "DICKSONX"), 0.8133,
			   EPS);
	assert_float_equal(kt_strsim_jaro_winkler("abc", "abc"), 1.0, EPS);
	assert_float_equal(kt_strsim_jaro_winkler("abc", "xyz"), 0.0, EPS);
	assert_float_equal(kt_strsim_jaro_winkler("", ""), 1.0, EPS);
	assert_float_equal(kt_strsim_jaro_winkler("", "a"), 0.0, EPS);
	/* Symmetric. */
	assert_float_equal(kt_strsim_jaro_winkler("DUANE", "DWAYNE"), 0.84,
			   EPS);
}

static void test_jaro_winkler_utf8(void **state)
{
	uint32_t a[8], b[8];
	size_t na = kt_strsim_decode("MÜLLER", strlen("MÜLLER"), a, 8);
	size_t nb = kt_strsim_decode("MULLER", 6, b, 8);
	double jw = kt_strsim_jaro_winkler("MÜLLER", "MULLER");

	/* One substituted code point out of six: the same score as the
	 * ASCII substitution, not a two-byte difference. */
	assert_int_equal(na, 6);
	assert_float_equal(jw, kt_strsim_jaro_winkler("MALLER", "MULLER"),
			   1e-12);
	assert_float_equal(jw, kt_strsim_jaro_winkler_cp(a, na, b, nb), 1e-12);
	assert_float_equal(jw, 0.9,
			   EPS); /* (5/6 + 5/6 + 1)/3 + 0.1 * 1 * (1 - J) */
	/* Below the boost threshold 0.7 the prefix adds nothing. */
	assert_float_equal(
	    kt_strsim_jaro_winkler("abcdxyzuvw", "abcdqrst"),
	    kt_strsim_jaro_cp(
		(const uint32_t[]){'a', 'b', 'c', 'd', 'x', 'y', 'z', 'u', 'v',
				   'w'},
		10, (const uint32_t[]){'a', 'b', 'c', 'd', 'q', 'r', 's', 't'},
		8),
	    1e-12);
}

/*
 * The bit-parallel path (ASCII, <= 64 code points) and the scanning path
 * must agree exactly: shifting every character out of ASCII forces the
 * scan on the same strings.
 */
static void test_jaro_paths_agree(void **state)
{
	uint64_t x = 12345;

	for (int round = 0; round < 20000; round++) {
		uint32_t a[80], b[80], sa[80], sb[80];
		size_t na, nb;

		x = x * 6364136223846793005ull + 1442695040888963407ull;
		na = 1 + (x >> 33) % 70;
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		nb = 1 + (x >> 33) % 70;
		for (size_t i = 0; i < 80; i++) {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			/* A small alphabet makes many matches and swaps. */
			a[i] = 'a' + (uint32_t)((x >> 40) % 5);
			b[i] = 'a' + (uint32_t)((x >> 50) % 5);
			sa[i] = a[i] + 0x100;
			sb[i] = b[i] + 0x100;
		}
		assert_true(kt_strsim_jaro_cp(a, na, b, nb) ==
			    kt_strsim_jaro_cp(sa, na, sb, nb));
	}
}

static void test_levenshtein(void **state)
{
	assert_int_equal(kt_strsim_levenshtein("kitten", "sitting", 10), 3);
	assert_int_equal(kt_strsim_levenshtein("kitten", "sitting", 3), 3);
	/* Bounded: anything beyond the bound reports bound + 1. */
	assert_int_equal(kt_strsim_levenshtein("kitten", "sitting", 2), 3);
	assert_int_equal(kt_strsim_levenshtein("kitten", "sitting", 1), 2);
	assert_int_equal(kt_strsim_levenshtein("a", "abcdef", 2), 3);
	assert_int_equal(kt_strsim_levenshtein("", "abc", 5), 3);
	assert_int_equal(kt_strsim_levenshtein("abc", "abc", 0), 0);
	assert_int_equal(kt_strsim_levenshtein("abc", "abd", 0), 1);
	/* Code points: ü vs u is one edit, ß vs ss two. */
	assert_int_equal(kt_strsim_levenshtein("Müller", "Muller", 5), 1);
	assert_int_equal(kt_strsim_levenshtein("Straße", "Strasse", 5), 2);
	/* A huge bound neither overflows nor changes the answer. */
	assert_int_equal(kt_strsim_levenshtein("flaw", "lawn", 0xffffffffu), 2);
}

static void test_tokens_and_sets(void **state)
{
	uint32_t a[16], b[16];
	size_t na = kt_strsim_tokens("  bau  mueller bau\tgmbh ", 24, a, 16);
	size_t nb = kt_strsim_tokens("mueller bau", 11, b, 16);

	assert_int_equal(na, 3); /* duplicates removed */
	assert_int_equal(nb, 2);
	for (size_t i = 1; i < na; i++)
		assert_true(a[i - 1] < a[i]);
	assert_int_equal(kt_strsim_set_common(a, na, b, nb), 2);
	assert_float_equal(kt_strsim_set_jaccard(a, na, b, nb), 2.0 / 3.0,
			   1e-12);
	assert_float_equal(kt_strsim_set_containment(a, na, b, nb), 1.0, 1e-12);
	assert_float_equal(kt_strsim_token_jaccard("a b c", "c d"), 0.25,
			   1e-12);
	assert_float_equal(kt_strsim_token_containment("a b c", "c d"), 0.5,
			   1e-12);
	assert_float_equal(kt_strsim_token_jaccard("", ""), 1.0, 1e-12);
	assert_float_equal(kt_strsim_token_jaccard("", "x"), 0.0, 1e-12);
	assert_float_equal(kt_strsim_token_containment("x", ""), 0.0, 1e-12);
	/* Order does not matter. */
	assert_float_equal(
	    kt_strsim_token_jaccard("mueller bau", "bau mueller"), 1.0, 1e-12);
	/* The capacity keeps the first tokens. */
	assert_int_equal(kt_strsim_tokens("a b c d e", 9, a, 2), 2);
	assert_int_equal(kt_strsim_tokens("   ", 3, a, 16), 0);
}

static void test_ngrams(void **state)
{
	uint32_t a[64], b[64], c[64];
	/* "abcd" padded: ^ab abc bcd cd$ */
	size_t na = kt_strsim_ngrams("abcd", 4, 3, a, 64);
	size_t nb = kt_strsim_ngrams("abxd", 4, 3, b, 64);
	size_t nc;

	assert_int_equal(na, 4);
	assert_int_equal(nb, 4);
	assert_int_equal(kt_strsim_set_common(a, na, b, nb), 1); /* ^ab */
	/* Code points: "ü" is one gram member, so "Müll" has 4 trigrams. */
	assert_int_equal(kt_strsim_ngrams("Müll", strlen("Müll"), 3, c, 64), 4);
	/* A short string gives one padded gram; q out of range nothing. */
	assert_int_equal(kt_strsim_ngrams("a", 1, 5, c, 64), 1);
	assert_int_equal(kt_strsim_ngrams("ab", 2, 1, c, 64), 0);
	assert_int_equal(kt_strsim_ngrams("ab", 2, 6, c, 64), 0);
	assert_int_equal(kt_strsim_ngrams("", 0, 3, c, 64), 0);
	/* Repeated grams count once. */
	nc = kt_strsim_ngrams("aaaa", 4, 2, c, 64);
	assert_int_equal(nc, 3); /* ^a aa a$ */
	/* Same string, same set. */
	nb = kt_strsim_ngrams("abcd", 4, 3, b, 64);
	assert_float_equal(kt_strsim_set_jaccard(a, na, b, nb), 1.0, 1e-12);
}

static void test_long_strings_bounded(void **state)
{
	char a[2000], b[2000];

	memset(a, 'x', sizeof(a) - 1);
	a[sizeof(a) - 1] = '\0';
	memcpy(b, a, sizeof(b));
	b[1500] = 'y'; /* beyond the compared prefix */
	assert_float_equal(kt_strsim_jaro_winkler(a, b), 1.0, 1e-12);
	assert_int_equal(kt_strsim_levenshtein(a, b, 3), 0);
	b[10] = 'y';
	assert_int_equal(kt_strsim_levenshtein(a, b, 3), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_decode),
	    cmocka_unit_test(test_jaro_winkler_vectors),
	    cmocka_unit_test(test_jaro_winkler_utf8),
	    cmocka_unit_test(test_jaro_paths_agree),
	    cmocka_unit_test(test_levenshtein),
	    cmocka_unit_test(test_tokens_and_sets),
	    cmocka_unit_test(test_ngrams),
	    cmocka_unit_test(test_long_strings_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
