#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kontor/err.h"
#include "kontor/pairwise.h"

static const uint8_t key[32] = "0123456789abcdef0123456789abcdef";

static void test_stable_within_sector(void **state)
{
	char a[KT_PAIRWISE_LEN + 1], b[KT_PAIRWISE_LEN + 1];

	assert_int_equal(kt_pairwise_id(key, 32, "sub", "portal.example.de",
					"person-1", a),
			 KT_OK);
	assert_int_equal(kt_pairwise_id(key, 32, "sub", "portal.example.de",
					"person-1", b),
			 KT_OK);
	assert_string_equal(a, b);
	assert_int_equal(strlen(a), KT_PAIRWISE_LEN);
	/* Known answer: base64url(HMAC-SHA256(key,
	 * "sub\0portal.example.de\0person-1")), computed independently with
	 * python3 hmac. */
	assert_string_equal(a, "wr8jEkZ1buUIiViB_Vc0prwjCHoe76Ivr5ZxkIrycYw");
}

static void test_differs_across_sectors_kinds_and_ids(void **state)
{
	char a[KT_PAIRWISE_LEN + 1], b[KT_PAIRWISE_LEN + 1];

	kt_pairwise_id(key, 32, "sub", "portal.example.de", "person-1", a);
	kt_pairwise_id(key, 32, "sub", "steuer.example.de", "person-1", b);
	assert_string_not_equal(a, b);
	kt_pairwise_id(key, 32, "org", "portal.example.de", "person-1", b);
	assert_string_not_equal(a, b);
	kt_pairwise_id(key, 32, "sub", "portal.example.de", "person-2", b);
	assert_string_not_equal(a, b);
	/* the separators keep concatenations apart */
	kt_pairwise_id(key, 32, "sub", "ab", "c", a);
	kt_pairwise_id(key, 32, "sub", "a", "bc", b);
	assert_string_not_equal(a, b);
	/* another key, another world */
	{
		uint8_t key2[32];
		memcpy(key2, key, 32);
		key2[0] ^= 1;
		kt_pairwise_id(key, 32, "sub", "s", "p", a);
		kt_pairwise_id(key2, 32, "sub", "s", "p", b);
		assert_string_not_equal(a, b);
	}
}

static void test_rejects(void **state)
{
	char a[KT_PAIRWISE_LEN + 1];
	char big[400];

	assert_int_equal(kt_pairwise_id(key, 8, "sub", "s", "p", a),
			 KT_ERR_INVALID);
	assert_int_equal(kt_pairwise_id(key, 32, "sub", "", "p", a),
			 KT_ERR_INVALID);
	assert_int_equal(kt_pairwise_id(key, 32, "sub", "s", "", a),
			 KT_ERR_INVALID);
	assert_int_equal(kt_pairwise_id(NULL, 32, "sub", "s", "p", a),
			 KT_ERR_INVALID);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(kt_pairwise_id(key, 32, "sub", big, "p", a),
			 KT_ERR_LIMIT);
	assert_string_equal(a, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stable_within_sector),
	    cmocka_unit_test(test_differs_across_sectors_kinds_and_ids),
	    cmocka_unit_test(test_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
