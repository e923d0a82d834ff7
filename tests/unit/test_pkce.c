#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kontor/err.h"
#include "kontor/pkce.h"

/* RFC 7636 Appendix B. */
static const char *verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
static const char *challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

static void test_rfc7636_vector(void **state)
{
	assert_int_equal(kt_pkce_verify_s256(verifier, challenge), KT_OK);
}

static void test_mismatch(void **state)
{
	assert_int_equal(
	    kt_pkce_verify_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK",
				challenge),
	    KT_ERR_DENIED);
	/* "plain" downgrade: the challenge itself as verifier fails. */
	assert_int_equal(kt_pkce_verify_s256(challenge, challenge),
			 KT_ERR_DENIED);
}

static void test_syntax(void **state)
{
	assert_true(kt_pkce_syntax_ok(verifier));
	assert_false(kt_pkce_syntax_ok("short"));
	assert_false(kt_pkce_syntax_ok(NULL));
	assert_false(kt_pkce_syntax_ok(
	    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjX+"));
	assert_int_equal(kt_pkce_verify_s256("x", challenge), KT_ERR_INVALID);
	assert_int_equal(kt_pkce_verify_s256(verifier, NULL), KT_ERR_INVALID);
	{
		char longv[130];
		for (int i = 0; i < 129; i++)
			longv[i] = 'a';
		longv[129] = '\0';
		assert_false(kt_pkce_syntax_ok(longv));
		longv[128] = '\0';
		assert_true(kt_pkce_syntax_ok(longv));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc7636_vector),
	    cmocka_unit_test(test_mismatch),
	    cmocka_unit_test(test_syntax),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
