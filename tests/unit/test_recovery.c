#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kontor/err.h"
#include "kontor/recovery.h"

static const uint8_t key[32] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

static int in_alphabet(char c)
{
	return c != '\0' && strchr("0123456789abcdefghjkmnpqrstvwxyz", c);
}

static void test_known_hash(void **state)
{
	/*
	 * HMAC-SHA256(key, "person-1" 0x00 "0123456789"), base64url, computed
	 * independently (Python hmac): pins the stored format.
	 */
	const char *want = "NNwmJLeIHGMy-1w-KnESrbfTjuwsWSLn4pZVbXDwSiI";
	char h[KT_RECOVERY_HASH_LEN + 1];

	assert_int_equal(
	    kt_recovery_hash(key, sizeof(key), "person-1", "01234-56789", h),
	    KT_OK);
	assert_string_equal(h, want);
	/* Every spelling a person might type. */
	static const char *const same[] = {
	    "0123456789",	   "01234 56789", " 01234-56789 ",
	    "o1234-56789",	   "O1234-56789", "0i234-56789",
	    "0I234-56789",	   "0l234-56789", "0L234-56789",
	    "0-1-2-3-4-5-6-7-8-9",
	};
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		assert_int_equal(
		    kt_recovery_hash(key, sizeof(key), "person-1", same[i], h),
		    KT_OK);
		assert_string_equal(h, want);
	}
	/* Bound to the person. */
	assert_int_equal(
	    kt_recovery_hash(key, sizeof(key), "person-2", "0123456789", h),
	    KT_OK);
	assert_string_not_equal(h, want);
}

static void test_normalise(void **state)
{
	char out[KT_RECOVERY_CODE_CHARS + 1];
	char longs[KT_RECOVERY_INPUT_MAX + 2];

	assert_int_equal(kt_recovery_normalise("ABCDE-FGHJK", out), KT_OK);
	assert_string_equal(out, "abcdefghjk");
	assert_int_equal(kt_recovery_normalise("mnpqr-stvwx", out), KT_OK);
	assert_string_equal(out, "mnpqrstvwx");

	static const char *const bad[] = {
	    "",
	    "abcde-fghj",
	    "abcde-fghjkm",
	    "abcde-fghju",
	    "abcde_fghjk",
	    "abcde\tfghjk",
	    "abcde-fgh!k",
	    "abcde-fghj\xc3\xa4",
	    "----------",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(out, "xxxxxxxxxx", 11);
		assert_int_equal(kt_recovery_normalise(bad[i], out),
				 KT_ERR_INVALID);
		assert_string_equal(out, "");
	}
	assert_int_equal(kt_recovery_normalise(NULL, out), KT_ERR_INVALID);

	/* Dashes and spaces count towards the input bound. */
	memset(longs, '-', sizeof(longs) - 1);
	memcpy(longs, "abcdefghjk", 10);
	longs[KT_RECOVERY_INPUT_MAX] = '\0';
	assert_int_equal(kt_recovery_normalise(longs, out), KT_OK);
	longs[KT_RECOVERY_INPUT_MAX] = '-';
	longs[KT_RECOVERY_INPUT_MAX + 1] = '\0';
	assert_int_equal(kt_recovery_normalise(longs, out), KT_ERR_LIMIT);
	assert_string_equal(out, "");
}

static void test_generate_and_check(void **state)
{
	struct kt_recovery_code codes[KT_RECOVERY_COUNT_DEFAULT];
	const char *hashes[KT_RECOVERY_COUNT_DEFAULT];
	char upper[KT_RECOVERY_DISPLAY_LEN + 1];
	size_t idx = 0;

	assert_int_equal(kt_recovery_generate(key, sizeof(key), "person-1",
					      codes, KT_RECOVERY_COUNT_DEFAULT),
			 KT_OK);
	for (size_t i = 0; i < KT_RECOVERY_COUNT_DEFAULT; i++) {
		const char *c = codes[i].code;

		assert_int_equal(strlen(c), KT_RECOVERY_DISPLAY_LEN);
		for (int k = 0; k < KT_RECOVERY_DISPLAY_LEN; k++) {
			if (k == 5)
				assert_int_equal(c[k], '-');
			else
				assert_true(in_alphabet(c[k]));
		}
		assert_int_equal(strlen(codes[i].hash), KT_RECOVERY_HASH_LEN);
		for (size_t j = 0; j < i; j++) {
			assert_string_not_equal(codes[j].code, c);
			assert_string_not_equal(codes[j].hash, codes[i].hash);
		}
		hashes[i] = codes[i].hash;
	}

	for (size_t i = 0; i < KT_RECOVERY_COUNT_DEFAULT; i++) {
		assert_int_equal(kt_recovery_check(key, sizeof(key), "person-1",
						   codes[i].code, hashes,
						   KT_RECOVERY_COUNT_DEFAULT,
						   &idx),
				 KT_OK);
		assert_int_equal(idx, i);
	}
	/* Typed in upper case without the dash. */
	for (int k = 0, o = 0; k < KT_RECOVERY_DISPLAY_LEN; k++) {
		char c = codes[3].code[k];
		if (c == '-')
			continue;
		upper[o++] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
		upper[o] = '\0';
	}
	assert_int_equal(kt_recovery_check(key, sizeof(key), "person-1", upper,
					   hashes, KT_RECOVERY_COUNT_DEFAULT,
					   &idx),
			 KT_OK);
	assert_int_equal(idx, 3);

	/* Used up: the caller removed entry 3. */
	hashes[3] = NULL;
	assert_int_equal(kt_recovery_check(key, sizeof(key), "person-1",
					   codes[3].code, hashes,
					   KT_RECOVERY_COUNT_DEFAULT, &idx),
			 KT_ERR_DENIED);
	assert_int_equal(idx, (size_t)-1);
	assert_int_equal(kt_recovery_check(key, sizeof(key), "person-1",
					   codes[9].code, hashes,
					   KT_RECOVERY_COUNT_DEFAULT, &idx),
			 KT_OK);
	assert_int_equal(idx, 9);

	/* Another person, another key, a truncated stored entry. */
	assert_int_equal(kt_recovery_check(key, sizeof(key), "person-2",
					   codes[0].code, hashes,
					   KT_RECOVERY_COUNT_DEFAULT, &idx),
			 KT_ERR_DENIED);
	{
		uint8_t k2[32];
		memcpy(k2, key, 32);
		k2[31] ^= 0x80;
		assert_int_equal(
		    kt_recovery_check(k2, sizeof(k2), "person-1", codes[0].code,
				      hashes, KT_RECOVERY_COUNT_DEFAULT, &idx),
		    KT_ERR_DENIED);
	}
	{
		char shortened[KT_RECOVERY_HASH_LEN + 1];
		const char *one[1] = {shortened};
		memcpy(shortened, codes[0].hash, sizeof(shortened));
		shortened[KT_RECOVERY_HASH_LEN - 1] = '\0';
		assert_int_equal(kt_recovery_check(key, sizeof(key), "person-1",
						   codes[0].code, one, 1, &idx),
				 KT_ERR_DENIED);
	}
	/* An empty list matches nothing. */
	assert_int_equal(kt_recovery_check(key, sizeof(key), "person-1",
					   codes[0].code, NULL, 0, &idx),
			 KT_ERR_DENIED);
}

static void test_check_rejects(void **state)
{
	const char *hashes[KT_RECOVERY_COUNT_MAX + 1] = {0};
	size_t idx = 0;

	assert_int_equal(
	    kt_recovery_check(key, sizeof(key), "p", "abcde", hashes, 1, &idx),
	    KT_ERR_INVALID);
	assert_int_equal(idx, (size_t)-1);
	assert_int_equal(kt_recovery_check(key, sizeof(key), "p", "abcde-fghjk",
					   hashes, KT_RECOVERY_COUNT_MAX + 1,
					   &idx),
			 KT_ERR_INVALID);
	assert_int_equal(kt_recovery_check(key, sizeof(key), "p", "abcde-fghjk",
					   NULL, 1, &idx),
			 KT_ERR_INVALID);
	assert_int_equal(kt_recovery_check(key, sizeof(key), "p", "abcde-fghjk",
					   hashes, 1, NULL),
			 KT_ERR_INVALID);
	assert_int_equal(
	    kt_recovery_check(NULL, 32, "p", "abcde-fghjk", hashes, 1, &idx),
	    KT_ERR_INVALID);
	assert_int_equal(
	    kt_recovery_check(key, 0, "p", "abcde-fghjk", hashes, 1, &idx),
	    KT_ERR_INVALID);
	assert_int_equal(kt_recovery_check(key, sizeof(key), "", "abcde-fghjk",
					   hashes, 1, &idx),
			 KT_ERR_INVALID);
	{
		char longp[KT_RECOVERY_PERSON_MAX + 2];
		char h[KT_RECOVERY_HASH_LEN + 1];
		memset(longp, 'p', sizeof(longp) - 1);
		longp[sizeof(longp) - 1] = '\0';
		assert_int_equal(kt_recovery_check(key, sizeof(key), longp,
						   "abcde-fghjk", hashes, 1,
						   &idx),
				 KT_ERR_LIMIT);
		assert_int_equal(
		    kt_recovery_hash(key, sizeof(key), longp, "abcde-fghjk", h),
		    KT_ERR_LIMIT);
		assert_string_equal(h, "");
		longp[KT_RECOVERY_PERSON_MAX] = '\0';
		assert_int_equal(
		    kt_recovery_hash(key, sizeof(key), longp, "abcde-fghjk", h),
		    KT_OK);
	}
}

static void test_generate_rejects(void **state)
{
	struct kt_recovery_code codes[KT_RECOVERY_COUNT_MAX + 1];

	assert_int_equal(kt_recovery_generate(key, sizeof(key), "p", codes, 0),
			 KT_ERR_INVALID);
	assert_int_equal(kt_recovery_generate(key, sizeof(key), "p", codes,
					      KT_RECOVERY_COUNT_MAX + 1),
			 KT_ERR_INVALID);
	assert_int_equal(kt_recovery_generate(key, sizeof(key), "p", NULL, 1),
			 KT_ERR_INVALID);
	assert_int_equal(kt_recovery_generate(NULL, 32, "p", codes, 1),
			 KT_ERR_INVALID);
	assert_string_equal(codes[0].code, "");
	assert_int_equal(kt_recovery_generate(key, sizeof(key), "", codes, 1),
			 KT_ERR_INVALID);
	assert_int_equal(kt_recovery_generate(key, sizeof(key), "p", codes,
					      KT_RECOVERY_COUNT_MAX),
			 KT_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_known_hash),
	    cmocka_unit_test(test_normalise),
	    cmocka_unit_test(test_generate_and_check),
	    cmocka_unit_test(test_check_rejects),
	    cmocka_unit_test(test_generate_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
