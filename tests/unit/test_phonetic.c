#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kontor/err.h"
#include "kontor/phonetic.h"

static void check(const char *in, const char *want)
{
	char out[64];

	assert_int_equal(kt_phonetic_cologne(in, out, sizeof(out)), KT_OK);
	if (strcmp(out, want) != 0)
		fail_msg("cologne(\"%s\") = \"%s\", want \"%s\"", in, out,
			 want);
}

static void check_raw(const char *in, const char *want)
{
	char out[64];

	assert_int_equal(kt_phonetic_cologne_raw(in, out, sizeof(out)), KT_OK);
	if (strcmp(out, want) != 0)
		fail_msg("cologne_raw(\"%s\") = \"%s\", want \"%s\"", in, out,
			 want);
}

static void test_published_examples(void **state)
{
	/* The worked example: step 1 as published, then the final key. */
	check_raw("Müller-Lüdenscheidt", "60550750206880022");
	check("Müller-Lüdenscheidt", "65752682");
	check_raw("Wikipedia", "304010200");
	check("Wikipedia", "3412");
	/* One sound, many spellings. */
	check("Meyer", "67");
	check("Maier", "67");
	check("Mayr", "67");
	check("Meier", "67");
	check("Müller", "657");
	check("Mueller", "657");
	check("MÜLLER", "657");
	check("Muller", "657");
	check("Schmidt", "862");
	check("Schmitt", "862");
	check("Schmid", "862");
	check("Breschnew", "17863");
	check("Beckmann", "1466"); /* C before K: 4, then K 4 merges */
}

static void test_letter_rules(void **state)
{
	/* C at the start of a word: 4 before A H K L O Q R U X, else 8. */
	check_raw("Ca", "40");
	check_raw("Cl", "45");
	check_raw("Ce", "80");
	/* C inside: 8 after S or Z, else 4 before A H K O Q U X, else 8. */
	check_raw("sca", "880");
	check_raw("aca", "040");
	check_raw("ace", "080");
	check_raw("acl", "085"); /* L counts only at the start */
	/* The start of each word counts, across separators. */
	check_raw("a Ca", "040");
	/* D/T before C S Z: 8. */
	check_raw("ds", "88");
	check_raw("ta", "20");
	/* P before H: 3. */
	check_raw("ph", "3");
	check_raw("pa", "10");
	/* X after C K Q: 8, else 48. */
	check_raw("kx", "48");
	check_raw("ax", "048");
	/* H has no code and does not separate: "Schuh" 8-8-0 -> 8. */
	check_raw("Schuh", "880");
	check("Schuh", "8");
	/* ß is S, Æ a vowel, ç a C. */
	check_raw("ß", "8");
	check_raw("Straße", "827080");
	check("Straße", "8278");
	check("Strasse", "8278");
	check_raw("Çe", "80");
	/* A leading vowel keeps its 0. */
	check("Otto", "02");
	check("Anna", "06");
}

static void test_edges(void **state)
{
	char out[8];

	check("", "");
	check("123 - !", "");
	check("h", "");
	/* Invalid UTF-8 is refused, the output left empty. */
	out[0] = 'x';
	assert_int_equal(kt_phonetic_cologne("M\xfcller", out, sizeof(out)),
			 KT_ERR_INVALID);
	assert_string_equal(out, "");
	/* Output too small. */
	assert_int_equal(kt_phonetic_cologne("Müller-Lüdenscheidt", out, 4),
			 KT_ERR_LIMIT);
	assert_string_equal(out, "");
	assert_int_equal(kt_phonetic_cologne_raw("Müller", out, 4),
			 KT_ERR_LIMIT);
	assert_int_equal(kt_phonetic_cologne("a", out, 0), KT_ERR_LIMIT);
	/* Input too long. */
	{
		char big[KT_PHONETIC_MAX_INPUT + 2];

		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		assert_int_equal(kt_phonetic_cologne(big, out, sizeof(out)),
				 KT_ERR_LIMIT);
		big[KT_PHONETIC_MAX_INPUT] = '\0';
		assert_int_equal(kt_phonetic_cologne(big, out, sizeof(out)),
				 KT_OK);
		assert_string_equal(out, "0");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_published_examples),
	    cmocka_unit_test(test_letter_rules),
	    cmocka_unit_test(test_edges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
