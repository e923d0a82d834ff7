#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kontor/err.h"
#include "kontor/password.h"

/* Cheap parameters so that the tests stay fast; N=16 is 16 KiB. */
static const struct kt_password_params small = {4, 8, 1};

/*
 * RFC 7914 section 12, second vector: P="password", S="NaCl", N=1024, r=8,
 * p=16, dkLen=64; salt and derived key in unpadded standard base64.
 */
static const char rfc7914_phc[] =
    "$scrypt$ln=10,r=8,p=16$TmFDbA$/bq+HJ00cgB4VucZDQHp/nxq18vII3gw53N2Y0s3"
    "MWIurzDZLiKjiG/xCSedmDDaxyevuUqD7m2DYMvfoswGQA";

static void test_roundtrip(void **state)
{
	struct kt_error err;
	char *h1 = NULL, *h2 = NULL;
	int rehash = -1;

	assert_int_equal(
	    kt_password_hash("correct horse battery", &small, &h1, &err),
	    KT_OK);
	assert_int_equal(
	    kt_password_hash("correct horse battery", &small, &h2, &err),
	    KT_OK);
	/* "$scrypt$ln=4,r=8,p=1$" + 22 salt + "$" + 43 hash */
	assert_int_equal(strncmp(h1, "$scrypt$ln=4,r=8,p=1$", 21), 0);
	assert_int_equal(strlen(h1), 21 + 22 + 1 + 43);
	assert_int_equal(h1[21 + 22], '$');
	assert_null(strchr(h1 + 21, '=')); /* no base64 padding */
	/* Fresh salt each time. */
	assert_string_not_equal(h1, h2);

	assert_int_equal(kt_password_verify("correct horse battery", h1, &small,
					    &rehash, &err),
			 KT_OK);
	assert_int_equal(rehash, 0);
	assert_int_equal(
	    kt_password_verify("correct horse battery", h2, &small, NULL, &err),
	    KT_OK);
	free(h1);
	free(h2);
}

static void test_empty_and_max_length(void **state)
{
	struct kt_error err;
	char pw[KT_PASSWORD_MAX_LEN + 2];
	char *h = NULL;

	assert_int_equal(kt_password_hash("", &small, &h, &err), KT_OK);
	assert_int_equal(kt_password_verify("", h, &small, NULL, &err), KT_OK);
	assert_int_equal(kt_password_verify("x", h, &small, NULL, &err),
			 KT_ERR_DENIED);
	free(h);

	memset(pw, 'a', KT_PASSWORD_MAX_LEN);
	pw[KT_PASSWORD_MAX_LEN] = '\0';
	assert_int_equal(kt_password_hash(pw, &small, &h, &err), KT_OK);
	assert_int_equal(kt_password_verify(pw, h, &small, NULL, &err), KT_OK);

	pw[KT_PASSWORD_MAX_LEN] = 'a';
	pw[KT_PASSWORD_MAX_LEN + 1] = '\0';
	assert_int_equal(kt_password_verify(pw, h, &small, NULL, &err),
			 KT_ERR_LIMIT);
	assert_string_equal(err.msg, "password longer than 1024 bytes");
	free(h);
	h = (char *)1;
	assert_int_equal(kt_password_hash(pw, &small, &h, &err), KT_ERR_LIMIT);
	assert_string_equal(err.msg, "password longer than 1024 bytes");
	assert_null(h);

	assert_int_equal(kt_password_hash(NULL, &small, &h, &err),
			 KT_ERR_INVALID);
	assert_int_equal(
	    kt_password_verify(NULL, rfc7914_phc, NULL, NULL, &err),
	    KT_ERR_INVALID);
}

static void test_wrong_password(void **state)
{
	struct kt_error err;
	char *h = NULL;
	int rehash = -1;

	assert_int_equal(kt_password_hash("right password", &small, &h, &err),
			 KT_OK);
	assert_int_equal(
	    kt_password_verify("wrong password", h, &small, &rehash, &err),
	    KT_ERR_DENIED);
	assert_string_equal(err.msg, "password mismatch");
	assert_int_equal(rehash, 0);
	/* A prefix of the right password is wrong too. */
	assert_int_equal(
	    kt_password_verify("right passwor", h, &small, NULL, &err),
	    KT_ERR_DENIED);
	free(h);
}

static void test_rfc7914_vector(void **state)
{
	struct kt_error err;
	char tampered[sizeof(rfc7914_phc)];
	int rehash = -1;

	assert_int_equal(
	    kt_password_verify("password", rfc7914_phc, NULL, &rehash, &err),
	    KT_OK);
	/* ln=10, 4-byte salt, all weaker than the defaults. */
	assert_int_equal(rehash, 1);
	assert_int_equal(
	    kt_password_verify("Password", rfc7914_phc, NULL, &rehash, &err),
	    KT_ERR_DENIED);
	assert_int_equal(rehash, 0);

	/* Last hash character changed: "...swGQA" -> "...swGQB" is not
	 * canonical (trailing bits), so change an earlier one instead. */
	memcpy(tampered, rfc7914_phc, sizeof(rfc7914_phc));
	tampered[sizeof(rfc7914_phc) - 4] ^= 0x01; /* 'G' -> 'F' */
	assert_int_equal(
	    kt_password_verify("password", tampered, NULL, NULL, &err),
	    KT_ERR_DENIED);
}

struct bad_case {
	const char *phc;
	int code;
	const char *msg;
};

static void check_cases(const struct bad_case *c, size_t n)
{
	struct kt_error err;
	int rehash;

	for (size_t i = 0; i < n; i++) {
		rehash = -1;
		kt_error_clear(&err);
		int r = kt_password_verify("password", c[i].phc, NULL, &rehash,
					   &err);
		if (r != c[i].code || strcmp(err.msg, c[i].msg) != 0)
			fail_msg("case %zu (%s): got %d \"%s\", want %d "
				 "\"%s\"",
				 i, c[i].phc ? c[i].phc : "(null)", r, err.msg,
				 c[i].code, c[i].msg);
		assert_int_equal(rehash, 0);
	}
}

#define SALT16 "c2FsdHNhbHRzYWx0c2FsdA" /* "saltsaltsaltsalt" */
#define HASH32 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define P "$scrypt$ln=4,r=8,p=1$"

static void test_malformed(void **state)
{
	static const char *expect_ln =
	    "scrypt hash: expected parameter ln (ln=<n>,r=<n>,p=<n>)";
	char longstr[KT_PASSWORD_PHC_MAX + 2];
	const struct bad_case cases[] = {
	    {NULL, KT_ERR_INVALID, "empty password hash string"},
	    {"", KT_ERR_INVALID, "empty password hash string"},
	    {"$scrypt$", KT_ERR_INVALID, expect_ln},
	    {"$scrypt$n=16,r=8,p=1$" SALT16 "$" HASH32, KT_ERR_INVALID,
	     expect_ln},
	    {"$scrypt$ln=4,p=1,r=8$" SALT16 "$" HASH32, KT_ERR_INVALID,
	     "scrypt hash: expected parameter r (ln=<n>,r=<n>,p=<n>)"},
	    {"$scrypt$ln=4,r=8$" SALT16 "$" HASH32, KT_ERR_INVALID,
	     "scrypt hash: bad value for parameter r"},
	    {"$scrypt$ln=,r=8,p=1$" SALT16 "$" HASH32, KT_ERR_INVALID,
	     "scrypt hash: bad value for parameter ln"},
	    {"$scrypt$ln=04,r=8,p=1$" SALT16 "$" HASH32, KT_ERR_INVALID,
	     "scrypt hash: bad value for parameter ln"},
	    {"$scrypt$ln=-4,r=8,p=1$" SALT16 "$" HASH32, KT_ERR_INVALID,
	     "scrypt hash: bad value for parameter ln"},
	    {"$scrypt$ln=4,r=8x,p=1$" SALT16 "$" HASH32, KT_ERR_INVALID,
	     "scrypt hash: bad value for parameter r"},
	    {"$scrypt$ln=4,r=8,p=1", KT_ERR_INVALID,
	     "scrypt hash: bad value for parameter p"},
	    {"$scrypt$ln=4,r=8,p=1,x=2$" SALT16 "$" HASH32, KT_ERR_INVALID,
	     "scrypt hash: bad value for parameter p"},
	    {P SALT16, KT_ERR_INVALID, "scrypt hash: missing hash after salt"},
	    {P "$" HASH32, KT_ERR_INVALID, "scrypt hash: empty salt"},
	    {P SALT16 "$", KT_ERR_INVALID, "scrypt hash: empty hash"},
	    {P SALT16 "$" HASH32 "$", KT_ERR_INVALID,
	     "scrypt hash: unexpected field after hash"},
	    {P "c2FsdHNhbHRzYWx0c2FsdA==$" HASH32, KT_ERR_INVALID,
	     "scrypt hash: salt is not unpadded base64"},
	    {P "c2FsdHNhbHRzYWx0c2Fsd-_$" HASH32, KT_ERR_INVALID,
	     "scrypt hash: salt is not unpadded base64"},
	    {P "c2FsdHNhbHRzYWx0c2FsdB$" HASH32, KT_ERR_INVALID,
	     "scrypt hash: salt is not unpadded base64"},
	    {P SALT16 "$AAAA AAAA", KT_ERR_INVALID,
	     "scrypt hash: hash is not unpadded base64"},
	    {P "YWJj$" HASH32, KT_ERR_INVALID,
	     "scrypt hash: salt must be 4 to 64 bytes"},
	    /* 66 bytes of salt */
	    {P
	     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	     "AAAAAAAAAAAAAAAAAAAAAAAA$" HASH32,
	     KT_ERR_INVALID, "scrypt hash: salt must be 4 to 64 bytes"},
	    /* 15 bytes of hash */
	    {P SALT16 "$AAAAAAAAAAAAAAAAAAAA", KT_ERR_INVALID,
	     "scrypt hash: hash must be 16 to 64 bytes"},
	    {longstr, KT_ERR_INVALID,
	     "password hash string longer than 256 bytes"},
	};

	memset(longstr, 'A', sizeof(longstr) - 1);
	memcpy(longstr, P SALT16 "$", strlen(P SALT16 "$"));
	longstr[sizeof(longstr) - 1] = '\0';
	check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_params_out_of_range(void **state)
{
	static const char *msg = "scrypt parameters out of range";
	const struct bad_case cases[] = {
	    {"$scrypt$ln=0,r=8,p=1$" SALT16 "$" HASH32, KT_ERR_INVALID, msg},
	    {"$scrypt$ln=21,r=1,p=1$" SALT16 "$" HASH32, KT_ERR_INVALID, msg},
	    /* 1 GiB: N=2^20, r=8 */
	    {"$scrypt$ln=20,r=8,p=1$" SALT16 "$" HASH32, KT_ERR_INVALID, msg},
	    {"$scrypt$ln=63,r=8,p=1$" SALT16 "$" HASH32, KT_ERR_INVALID, msg},
	    {"$scrypt$ln=99999999,r=8,p=1$" SALT16 "$" HASH32, KT_ERR_INVALID,
	     msg},
	    {"$scrypt$ln=4,r=0,p=1$" SALT16 "$" HASH32, KT_ERR_INVALID, msg},
	    {"$scrypt$ln=4,r=4096,p=1$" SALT16 "$" HASH32, KT_ERR_INVALID, msg},
	    {"$scrypt$ln=4,r=8,p=0$" SALT16 "$" HASH32, KT_ERR_INVALID, msg},
	    {"$scrypt$ln=4,r=8,p=1000000$" SALT16 "$" HASH32, KT_ERR_INVALID,
	     msg},
	    /* Memory fine (128 MiB) but 64 lanes of it: too much CPU. */
	    {"$scrypt$ln=17,r=8,p=64$" SALT16 "$" HASH32, KT_ERR_INVALID, msg},
	};
	const struct kt_password_params huge[] = {
	    {0, 8, 1}, {20, 8, 1}, {30, 8, 1}, {4, 0, 1}, {4, 8, 0}, {4, 8, 65},
	};
	struct kt_error err;
	char *h;

	check_cases(cases, sizeof(cases) / sizeof(cases[0]));
	for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		h = (char *)1;
		assert_int_equal(kt_password_hash("pw", &huge[i], &h, &err),
				 KT_ERR_INVALID);
		assert_string_equal(err.msg, msg);
		assert_null(h);
	}
}

static void test_unsupported(void **state)
{
	const struct bad_case cases[] = {
	    {"$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", KT_ERR_UNSUPPORTED,
	     "unsupported password hash scheme \"argon2id\""},
	    {"$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
	     KT_ERR_UNSUPPORTED, "unsupported password hash scheme \"2b\""},
	    {"$6$saltsalt$abc", KT_ERR_UNSUPPORTED,
	     "unsupported password hash scheme \"6\""},
	    {"$SCRYPT$ln=4,r=8,p=1$" SALT16 "$" HASH32, KT_ERR_UNSUPPORTED,
	     "unrecognised password hash format"},
	    {"{SSHA}c2FsdGVkc2hhMQ==", KT_ERR_UNSUPPORTED,
	     "unrecognised password hash format"},
	    {"$scrypt", KT_ERR_UNSUPPORTED,
	     "unrecognised password hash format"},
	};
	check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_needs_rehash(void **state)
{
	const struct kt_password_params more_n = {5, 8, 1}, more_r = {4, 9, 1},
					more_p = {4, 8, 2}, less_r = {4, 4, 1};
	struct kt_error err;
	char *h = NULL;
	int rehash;

	assert_int_equal(kt_password_hash("pw", &small, &h, &err), KT_OK);
	assert_int_equal(kt_password_verify("pw", h, &more_n, &rehash, &err),
			 KT_OK);
	assert_int_equal(rehash, 1);
	assert_int_equal(kt_password_verify("pw", h, &more_r, &rehash, &err),
			 KT_OK);
	assert_int_equal(rehash, 1);
	assert_int_equal(kt_password_verify("pw", h, &more_p, &rehash, &err),
			 KT_OK);
	assert_int_equal(rehash, 1);
	/* Stored is stronger than current: keep it. */
	assert_int_equal(kt_password_verify("pw", h, &less_r, &rehash, &err),
			 KT_OK);
	assert_int_equal(rehash, 0);
	assert_int_equal(kt_password_verify("pw", h, &small, &rehash, &err),
			 KT_OK);
	assert_int_equal(rehash, 0);
	/* Defaults (NULL) are stronger than the test parameters. */
	assert_int_equal(kt_password_verify("pw", h, NULL, &rehash, &err),
			 KT_OK);
	assert_int_equal(rehash, 1);
	free(h);

	/* Same parameters as current but a 4-byte salt: rehash. */
	assert_int_equal(
	    kt_password_verify("password", rfc7914_phc,
			       &(struct kt_password_params){10, 8, 16}, &rehash,
			       &err),
	    KT_OK);
	assert_int_equal(rehash, 1);
}

static void test_dummy_verify(void **state)
{
	/* Nothing observable but the time spent; it must not crash or leak. */
	kt_password_dummy_verify("whatever", &small);
	kt_password_dummy_verify("whatever", NULL);
	kt_password_dummy_verify(NULL, &small);
}

static void test_defaults(void **state)
{
	assert_int_equal(kt_password_params_default.log_n, 13);
	assert_int_equal(kt_password_params_default.r, 8);
	assert_int_equal(kt_password_params_default.p, 10);
}

static void test_policy(void **state)
{
	static const struct {
		const char *pw;
		const char *reason;
	} cases[] = {
	    {"abcdefghijkl", NULL},
	    {"abcdefghijk", "too_short"},
	    {"", "too_short"},
	    /* Code points, not bytes: 12 x U+00E4 is 24 bytes. */
	    {"\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4"
	     "\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4",
	     NULL},
	    {"\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4"
	     "\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4",
	     "too_short"},
	    /* 4-byte sequences (U+1F511) count once each. */
	    {"\xf0\x9f\x94\x91\xf0\x9f\x94\x91\xf0\x9f\x94\x91"
	     "\xf0\x9f\x94\x91\xf0\x9f\x94\x91\xf0\x9f\x94\x91"
	     "\xf0\x9f\x94\x91\xf0\x9f\x94\x91\xf0\x9f\x94\x91"
	     "\xf0\x9f\x94\x91\xf0\x9f\x94\x91",
	     "too_short"},
	    {"            ", "whitespace_only"},
	    {" \t\n         ", "whitespace_only"},
	    /* 12 x U+3000 IDEOGRAPHIC SPACE */
	    {"\xe3\x80\x80\xe3\x80\x80\xe3\x80\x80\xe3\x80\x80"
	     "\xe3\x80\x80\xe3\x80\x80\xe3\x80\x80\xe3\x80\x80"
	     "\xe3\x80\x80\xe3\x80\x80\xe3\x80\x80\xe3\x80\x80",
	     "whitespace_only"},
	    {"           x", NULL},
	    {"abcdefghijk\xff", "invalid_utf8"},
	    {"abcdefghijk\xc3", "invalid_utf8"},
	    {"abcdefghijk\xc3\x28", "invalid_utf8"},
	    /* Overlong '/', surrogate U+D800, above U+10FFFF */
	    {"abcdefghijk\xc0\xaf", "invalid_utf8"},
	    {"abcdefghijk\xed\xa0\x80", "invalid_utf8"},
	    {"abcdefghijk\xf4\x90\x80\x80", "invalid_utf8"},
	};
	char buf[200];
	const char *reason;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		reason = "unset";
		int r = kt_password_policy_check(cases[i].pw, &reason);
		if (cases[i].reason == NULL) {
			assert_int_equal(r, KT_OK);
			assert_null(reason);
		} else {
			assert_int_equal(r, KT_ERR_INVALID);
			assert_non_null(reason);
			if (strcmp(reason, cases[i].reason) != 0)
				fail_msg("case %zu: got %s, want %s", i, reason,
					 cases[i].reason);
		}
	}

	memset(buf, 'x', 128);
	buf[128] = '\0';
	assert_int_equal(kt_password_policy_check(buf, &reason), KT_OK);
	buf[128] = 'x';
	buf[129] = '\0';
	assert_int_equal(kt_password_policy_check(buf, &reason),
			 KT_ERR_INVALID);
	assert_string_equal(reason, "too_long");

	assert_int_equal(kt_password_policy_check(NULL, &reason),
			 KT_ERR_INVALID);
	assert_string_equal(reason, "missing");
	assert_int_equal(kt_password_policy_check("abcdefghijkl", NULL), KT_OK);

	assert_string_equal(kt_password_policy_describe("too_short"),
			    "The password must have at least 12 characters.");
	assert_string_equal(kt_password_policy_describe("nonsense"),
			    "The password is not acceptable.");
	assert_string_equal(kt_password_policy_describe(NULL),
			    "The password is not acceptable.");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_empty_and_max_length),
	    cmocka_unit_test(test_wrong_password),
	    cmocka_unit_test(test_rfc7914_vector),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_params_out_of_range),
	    cmocka_unit_test(test_unsupported),
	    cmocka_unit_test(test_needs_rehash),
	    cmocka_unit_test(test_dummy_verify),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_policy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
