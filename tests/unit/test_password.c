#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
	assert_true(kt_password_is_current(h1));
	assert_false(kt_password_is_current("$2b$05$abcdefghijklmnopqrstuu"
					    "5s2v8.iXieOjg/.AySBTTZIIVFJeBui"));
	assert_false(kt_password_is_current("$6$salt$hash"));
	assert_false(kt_password_is_current("{SSHA1-HEX}00$00"));
	assert_false(kt_password_is_current("$scrypt"));
	assert_false(kt_password_is_current(""));
	assert_false(kt_password_is_current(NULL));

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
	    /* crypt_blowfish's emulation of the sign-extension bug */
	    {"$2x$05$/OK.fbVrR/bpIqNJ5ianF.CE5elHaaO4EbggVDjb8P19RukzXSM3e",
	     KT_ERR_UNSUPPORTED, "unsupported password hash scheme \"2x\""},
	    {"$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZF7l9u6E3",
	     KT_ERR_UNSUPPORTED, "unsupported password hash scheme \"5\""},
	    {"$1$saltsalt$qjXMvbEw8oaL.CzflDugX/", KT_ERR_UNSUPPORTED,
	     "unsupported password hash scheme \"1\""},
	    {"$pbkdf2$i=1000$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
	     KT_ERR_UNSUPPORTED, "unsupported password hash scheme \"pbkdf2\""},
	    {"$pbkdf2-sha512$i=1000$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
	     KT_ERR_UNSUPPORTED,
	     "unsupported password hash scheme \"pbkdf2-sha512\""},
	    {"pbkdf2_sha1$1000$salt$AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	     KT_ERR_UNSUPPORTED, "unrecognised password hash format"},
	    {"$SCRYPT$ln=4,r=8,p=1$" SALT16 "$" HASH32, KT_ERR_UNSUPPORTED,
	     "unrecognised password hash format"},
	    {"{SSHA}c2FsdGVkc2hhMQ==", KT_ERR_UNSUPPORTED,
	     "unrecognised password hash format"},
	    {"{ssha1-hex}00$9d33953d511c74f6c70241d2f7a65c34f97e666c",
	     KT_ERR_UNSUPPORTED, "unrecognised password hash format"},
	    {"5f4dcc3b5aa765d61d8327deb882cf99", KT_ERR_UNSUPPORTED,
	     "unrecognised password hash format"},
	    {"$scrypt", KT_ERR_UNSUPPORTED,
	     "unrecognised password hash format"},
	    {"$6", KT_ERR_UNSUPPORTED, "unrecognised password hash format"},
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

/* ---- legacy formats ----------------------------------------------------- */

struct vector {
	const char *phc;
	const char *pw;
	int code; /* KT_OK or KT_ERR_DENIED */
};

/* Each match must ask for a rehash; each mismatch must not. */
static void check_vectors(const struct vector *v, size_t n)
{
	struct kt_error err;
	int rehash, r;

	for (size_t i = 0; i < n; i++) {
		rehash = -1;
		kt_error_clear(&err);
		r = kt_password_verify(v[i].pw, v[i].phc, NULL, &rehash, &err);
		if (r != v[i].code)
			fail_msg("vector %zu (%s): got %d \"%s\", want %d", i,
				 v[i].phc, r, err.msg, v[i].code);
		if (rehash != (v[i].code == KT_OK))
			fail_msg("vector %zu (%s): rehash %d", i, v[i].phc,
				 rehash);
		if (r == KT_ERR_DENIED)
			assert_string_equal(err.msg, "password mismatch");
	}
}

/* "Grüße aus Köln" in UTF-8; \x65 is the 'e' ("\x9fe" would be one escape). */
#define GRUESSE "Gr\xc3\xbc\xc3\x9f\x65 aus K\xc3\xb6ln"

/*
 * Openwall's 72-byte vector: the password is 100 bytes; bcrypt reads the
 * first 72 ("...0123456789" ends at byte 72).
 */
#define OW72_HASH "$2a$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui"
#define OW72_PREFIX                                                            \
	"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"       \
	"0123456789"

static void test_bcrypt(void **state)
{
	char prefix71[72], long_pw[KT_PASSWORD_MAX_LEN + 1];
	const struct vector v[] = {
	    /* Openwall crypt_blowfish 1.3 wrapper.c test vectors */
	    {"$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
	     "U*U", KT_OK},
	    {"$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
	     "U*V", KT_ERR_DENIED},
	    {"$2a$05$CCCCCCCCCCCCCCCCCCCCC.7uG0VCzI2bS7j6ymqJi9CdcdxiRTWNy", "",
	     KT_OK},
	    {OW72_HASH, OW72_PREFIX "chars after 72 are ignored", KT_OK},
	    {OW72_HASH, OW72_PREFIX, KT_OK},
	    {OW72_HASH, OW72_PREFIX "X", KT_OK},
	    {OW72_HASH, prefix71, KT_ERR_DENIED},
	    /* beyond libxcrypt's 511-byte limit: cut to 72 first */
	    {OW72_HASH, long_pw, KT_OK},
	    {"$2y$05$/OK.fbVrR/bpIqNJ5ianF.Sa7shbm4.OzKpvFnX1pQLmQW96oUlCq",
	     "\xa3", KT_OK},
	    {"$2b$05$/OK.fbVrR/bpIqNJ5ianF.Sa7shbm4.OzKpvFnX1pQLmQW96oUlCq",
	     "\xa3", KT_OK},
	    {"$2a$05$/OK.fbVrR/bpIqNJ5ianF.Sa7shbm4.OzKpvFnX1pQLmQW96oUlCq",
	     "\xa3", KT_OK},
	    {"$2b$05$/OK.fbVrR/bpIqNJ5ianF.CE5elHaaO4EbggVDjb8P19RukzXSM3e",
	     "\xff\xff\xa3", KT_OK},
	    /*
	     * crypt_blowfish's $2a$ countermeasure for the one password shape
	     * where the old bug collided: its own vector matches, OpenBSD's
	     * (python3-bcrypt 3.2.2) $2a$ string for it does not
	     * (docs/passwords.md).
	     */
	    {"$2a$05$/OK.fbVrR/bpIqNJ5ianF.nqd1wy.pTMdcvrRWxyiGL2eMz.2a85.",
	     "\xff\xff\xa3", KT_OK},
	    {"$2a$05$/OK.fbVrR/bpIqNJ5ianF.CE5elHaaO4EbggVDjb8P19RukzXSM3e",
	     "\xff\xff\xa3", KT_ERR_DENIED},
	    /* python3-bcrypt 3.2.2 (OpenBSD's bcrypt.c), hashpw() */
	    {"$2b$04$Kontor.legacy.vectorsu6zd7Aj6wQAri8pBTdjZhh9GuGRFBE1m",
	     GRUESSE, KT_OK},
	    {"$2a$04$Kontor.legacy.vectorsu6zd7Aj6wQAri8pBTdjZhh9GuGRFBE1m",
	     GRUESSE, KT_OK},
	    {"$2b$04$Kontor.legacy.vectorsu6zd7Aj6wQAri8pBTdjZhh9GuGRFBE1m",
	     "Gr\xc3\xbcsse aus K\xc3\xb6ln", KT_ERR_DENIED},
	    /* Apache htpasswd -nbB -C 5 (APR's bcrypt) */
	    {"$2y$05$dSYvMsZaU.HciucfpW/7vOSWBY2I82ltiR.rrwfGdooSh2HPZNemO",
	     "correct horse battery staple", KT_OK},
	    {"$2y$05$dSYvMsZaU.HciucfpW/7vOSWBY2I82ltiR.rrwfGdooSh2HPZNemO",
	     "correct horse battery stapl", KT_ERR_DENIED},
	    /* hash tampered in its first character */
	    {"$2y$05$dSYvMsZaU.HciucfpW/7vOTWBY2I82ltiR.rrwfGdooSh2HPZNemO",
	     "correct horse battery staple", KT_ERR_DENIED},
	};

	memcpy(prefix71, OW72_PREFIX, 71);
	prefix71[71] = '\0';
	memset(long_pw, 'x', KT_PASSWORD_MAX_LEN);
	memcpy(long_pw, OW72_PREFIX, 72);
	long_pw[KT_PASSWORD_MAX_LEN] = '\0';
	check_vectors(v, sizeof(v) / sizeof(v[0]));
}

/* python3-passlib 1.7.4, sha512_crypt with the "builtin" backend. */
#define SHA512_511                                                             \
	"$6$LongPw511$xzdaMcbihZzzvAW9V9.VWcVBPeQddbH6LnZIz.IJVkSloux0QMNJDbV" \
	"3dMO7akFIZd1rTdN59ZBLIBE7wF4WE1"

static void test_sha512crypt(void **state)
{
	char pw511[513];
	const struct vector v[] = {
	    /* Drepper, "Unix crypt using SHA-256 and SHA-512", tests2[] */
	    {"$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQ"
	     "JuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
	     "Hello world!", KT_OK},
	    {"$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQ"
	     "JuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
	     "Hello world", KT_ERR_DENIED},
	    {"$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0"
	     "sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.",
	     "Hello world!", KT_OK},
	    /* the same with an implicit count: another hash */
	    {"$6$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0"
	     "sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.",
	     "Hello world!", KT_ERR_DENIED},
	    /* openssl passwd -6 -salt Kt9xQ2vW (OpenSSL 3.0) */
	    {"$6$Kt9xQ2vW$"
	     "pr4AdzI4F5uVIP0VEoRZeiaiYjmA3DRSN7ZNybM7OZG8tjSu6iIaMA"
	     "Vy8vJnb7Z8CqrKm4xnL54ofGqVaebOt/",
	     GRUESSE, KT_OK},
	    {SHA512_511, pw511, KT_OK},
	};
	struct kt_error err;
	int rehash = -1;

	memset(pw511, 'a', 511);
	pw511[511] = '\0';
	check_vectors(v, sizeof(v) / sizeof(v[0]));

	/* 512 bytes: libxcrypt cannot, so neither can we. */
	pw511[511] = 'a';
	pw511[512] = '\0';
	assert_int_equal(
	    kt_password_verify(pw511, SHA512_511, NULL, &rehash, &err),
	    KT_ERR_LIMIT);
	assert_string_equal(err.msg,
			    "sha512-crypt: password longer than 511 bytes");
	assert_int_equal(rehash, 0);
}

static void test_pbkdf2(void **state)
{
	const struct vector v[] = {
	    /*
	     * RFC 7914 section 11, second PBKDF2-HMAC-SHA256 vector:
	     * P="Password", S="NaCl", c=80000, dkLen=64.
	     */
	    {"$pbkdf2-sha256$i=80000,l=64$TmFDbA$TdzY9guYviGDDO5e8icB+WQaRBjQTA"
	     "QUrv8Ih2s0q1ah1CWhIlgzVJrbhBtRybMXaicr3ruh0HhHj2Kzl/M8jQ",
	     "Password", KT_OK},
	    {"$pbkdf2-sha256$i=80000$TmFDbA$TdzY9guYviGDDO5e8icB+WQaRBjQTA"
	     "QUrv8Ih2s0q1ah1CWhIlgzVJrbhBtRybMXaicr3ruh0HhHj2Kzl/M8jQ",
	     "Password", KT_OK},
	    /* python3 hashlib.pbkdf2_hmac, salt bytes a0..af */
	    {"$pbkdf2-sha256$i=1000,l=32$oKGio6SlpqeoqaqrrK2urw$IJdA6qd1ZKb7mHl"
	     "wFHh8c4ZkClt5fVckLgJhndkBRqI",
	     GRUESSE, KT_OK},
	    {"$pbkdf2-sha256$i=1000$oKGio6SlpqeoqaqrrK2urw$IJdA6qd1ZKb7mHl"
	     "wFHh8c4ZkClt5fVckLgJhndkBRqI",
	     GRUESSE, KT_OK},
	    {"$pbkdf2-sha256$i=1001$oKGio6SlpqeoqaqrrK2urw$IJdA6qd1ZKb7mHl"
	     "wFHh8c4ZkClt5fVckLgJhndkBRqI",
	     GRUESSE, KT_ERR_DENIED},
	    {"$pbkdf2-sha256$i=1000$oKGio6SlpqeoqaqrrK2urw$IJdA6qd1ZKb7mHl"
	     "wFHh8c4ZkClt5fVckLgJhndkBRqI",
	     "Gruesse aus Koeln", KT_ERR_DENIED},
	    /*
	     * Django's encoding, computed as its PBKDF2PasswordHasher does
	     * with hashlib.pbkdf2_hmac and checked with python3-passlib's
	     * django_pbkdf2_sha256.
	     */
	    {"pbkdf2_sha256$10000$Kontor0Legacy1Vectors2$S1rfpz/Th87Q4I9j1Jms"
	     "UENsoYYdfvui47WzgLwhtUE=",
	     GRUESSE, KT_OK},
	    {"pbkdf2_sha256$1000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9Bnn"
	     "hgX4A=",
	     "l\xc3\xa8tmein", KT_OK},
	    {"pbkdf2_sha256$1000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9Bnn"
	     "hgX4A=",
	     "letmein", KT_ERR_DENIED},
	    {"pbkdf2_sha256$1000$seasalu$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9Bnn"
	     "hgX4A=",
	     "l\xc3\xa8tmein", KT_ERR_DENIED},
	};

	check_vectors(v, sizeof(v) / sizeof(v[0]));
}

static void test_ssha1(void **state)
{
	const struct vector v[] = {
	    /* python3 hashlib.sha1(salt + password).hexdigest() */
	    {"{SSHA1-HEX}9a1700ff3c5e8d21$751eee515d520de3ab3908b77f9eef2ce59e1"
	     "067",
	     GRUESSE, KT_OK},
	    {"{SSHA1-HEX}00$9d33953d511c74f6c70241d2f7a65c34f97e666c",
	     "password", KT_OK},
	    {"{SSHA1-HEX}00$9d33953d511c74f6c70241d2f7a65c34f97e666c",
	     "Password", KT_ERR_DENIED},
	    {"{SSHA1-HEX}01$9d33953d511c74f6c70241d2f7a65c34f97e666c",
	     "password", KT_ERR_DENIED},
	    /* SHA-1(password || salt), LDAP's order: not this format */
	    {"{SSHA1-HEX}9a1700ff3c5e8d21$2f95f41e959ae1da050cc79300f14518c1530"
	     "a03",
	     GRUESSE, KT_ERR_DENIED},
	};

	check_vectors(v, sizeof(v) / sizeof(v[0]));
}

#define BC_SH "CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
#define S512_H                                                                 \
	"svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdc" \
	"bYEdFCoEOfaS35inz1"
#define PB_SALT "oKGio6SlpqeoqaqrrK2urw"
#define PB_HASH "IJdA6qd1ZKb7mHlwFHh8c4ZkClt5fVckLgJhndkBRqI"
#define DJ_HASH "JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A="
#define SHA1_HEX "9d33953d511c74f6c70241d2f7a65c34f97e666c"

static void test_legacy_malformed(void **state)
{
	static const char *bc_cost =
	    "bcrypt hash: expected a two-digit cost and '$' after \"$2b$\"";
	static const char *bc_len =
	    "bcrypt hash: salt and hash must be 53 characters";
	static const char *s5_salt = "sha512-crypt hash: salt must be 1 to 16 "
				     "characters of [./0-9A-Za-z]";
	static const char *s5_hash = "sha512-crypt hash: hash must be 86 "
				     "characters of [./0-9A-Za-z]";
	static const char *s5_rounds =
	    "sha512-crypt hash: bad value for rounds";
	static const char *pb_i =
	    "pbkdf2-sha256 hash: bad value for parameter i";
	static const char *dj_hash =
	    "Django pbkdf2_sha256 hash: hash must be 32 bytes in padded base64";
	static const char *dj_salt = "Django pbkdf2_sha256 hash: salt must be "
				     "1 to 64 printable ASCII characters";
	static const char *ss_salt =
	    "SSHA1-HEX hash: salt must be 1 to 64 bytes in lowercase hex";
	static const char *ss_hash =
	    "SSHA1-HEX hash: hash must be 40 lowercase hex digits";
	const struct bad_case cases[] = {
	    /* bcrypt */
	    {"$2b$", KT_ERR_INVALID, bc_cost},
	    {"$2b$5$" BC_SH, KT_ERR_INVALID, bc_cost},
	    {"$2b$x5$" BC_SH, KT_ERR_INVALID, bc_cost},
	    {"$2b$05" BC_SH, KT_ERR_INVALID, bc_cost},
	    {"$2b$-5$" BC_SH, KT_ERR_INVALID, bc_cost},
	    {"$2a$05x" BC_SH, KT_ERR_INVALID,
	     "bcrypt hash: expected a two-digit cost and '$' after \"$2a$\""},
	    {"$2b$05$", KT_ERR_INVALID, bc_len},
	    {"$2b$05$" BC_SH "x", KT_ERR_INVALID, bc_len},
	    {"$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe",
	     KT_ERR_INVALID, bc_len},
	    {"$2b$05$CCCCCCCCCCCCCCCCCCCCC$E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
	     KT_ERR_INVALID,
	     "bcrypt hash: salt and hash are not bcrypt base64 [./A-Za-z0-9]"},
	    {"$2b$05$CCCCCCCCCCCCCCCCCCCCC+E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
	     KT_ERR_INVALID,
	     "bcrypt hash: salt and hash are not bcrypt base64 [./A-Za-z0-9]"},
	    /* 22nd salt character '/' (value 1): unused bits set */
	    {"$2b$05$CCCCCCCCCCCCCCCCCCCCC/E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
	     KT_ERR_INVALID, "bcrypt hash: salt has non-zero unused bits"},
	    {"$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeX",
	     KT_ERR_INVALID, "bcrypt hash: hash has non-zero unused bits"},
	    /* sha512-crypt */
	    {"$6$", KT_ERR_INVALID,
	     "sha512-crypt hash: missing hash after salt"},
	    {"$6$saltstring", KT_ERR_INVALID,
	     "sha512-crypt hash: missing hash after salt"},
	    {"$6$$" S512_H, KT_ERR_INVALID, s5_salt},
	    {"$6$salt:ring$" S512_H, KT_ERR_INVALID, s5_salt},
	    {"$6$saltstringsaltstring$" S512_H, KT_ERR_INVALID, s5_salt},
	    {"$6$saltstring$", KT_ERR_INVALID, s5_hash},
	    {"$6$saltstring$" S512_H "x", KT_ERR_INVALID, s5_hash},
	    {"$6$saltstring$" S512_H "$", KT_ERR_INVALID, s5_hash},
	    {"$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQ"
	     "JuesI68u4OTLiBFdcbYEdFCoEOfaS35inz=",
	     KT_ERR_INVALID, s5_hash},
	    {"$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQ"
	     "JuesI68u4OTLiBFdcbYEdFCoEOfaS35inz2",
	     KT_ERR_INVALID,
	     "sha512-crypt hash: hash has non-zero unused bits"},
	    {"$6$rounds=$saltstring$" S512_H, KT_ERR_INVALID, s5_rounds},
	    {"$6$rounds=05000$saltstring$" S512_H, KT_ERR_INVALID, s5_rounds},
	    {"$6$rounds=+5000$saltstring$" S512_H, KT_ERR_INVALID, s5_rounds},
	    {"$6$rounds=5000x$saltstring$" S512_H, KT_ERR_INVALID, s5_rounds},
	    {"$6$rounds=5000", KT_ERR_INVALID, s5_rounds},
	    /* PBKDF2, PHC form */
	    {"$pbkdf2-sha256$", KT_ERR_INVALID,
	     "pbkdf2-sha256 hash: expected parameter i (i=<n>[,l=<n>])"},
	    {"$pbkdf2-sha256$1000$" PB_SALT "$" PB_HASH, KT_ERR_INVALID,
	     "pbkdf2-sha256 hash: expected parameter i (i=<n>[,l=<n>])"},
	    {"$pbkdf2-sha256$i=$" PB_SALT "$" PB_HASH, KT_ERR_INVALID, pb_i},
	    {"$pbkdf2-sha256$i=01000$" PB_SALT "$" PB_HASH, KT_ERR_INVALID,
	     pb_i},
	    {"$pbkdf2-sha256$i=1000;l=32$" PB_SALT "$" PB_HASH, KT_ERR_INVALID,
	     pb_i},
	    {"$pbkdf2-sha256$i=1000", KT_ERR_INVALID, pb_i},
	    {"$pbkdf2-sha256$i=1000,x=32$" PB_SALT "$" PB_HASH, KT_ERR_INVALID,
	     "pbkdf2-sha256 hash: expected parameter l (i=<n>[,l=<n>])"},
	    {"$pbkdf2-sha256$i=1000,l=$" PB_SALT "$" PB_HASH, KT_ERR_INVALID,
	     "pbkdf2-sha256 hash: bad value for parameter l"},
	    {"$pbkdf2-sha256$i=1000,l=32,p=1$" PB_SALT "$" PB_HASH,
	     KT_ERR_INVALID, "pbkdf2-sha256 hash: bad value for parameter l"},
	    {"$pbkdf2-sha256$i=1000,l=1000$" PB_SALT "$" PB_HASH,
	     KT_ERR_INVALID, "pbkdf2-sha256 hash: bad value for parameter l"},
	    {"$pbkdf2-sha256$i=1000,l=31$" PB_SALT "$" PB_HASH, KT_ERR_INVALID,
	     "pbkdf2-sha256 hash: parameter l does not match the hash length"},
	    {"$pbkdf2-sha256$i=1000$" PB_SALT, KT_ERR_INVALID,
	     "pbkdf2-sha256 hash: missing hash after salt"},
	    {"$pbkdf2-sha256$i=1000$" PB_SALT "$" PB_HASH "$", KT_ERR_INVALID,
	     "pbkdf2-sha256 hash: unexpected field after hash"},
	    {"$pbkdf2-sha256$i=1000$$" PB_HASH, KT_ERR_INVALID,
	     "pbkdf2-sha256 hash: empty salt"},
	    {"$pbkdf2-sha256$i=1000$" PB_SALT "==$" PB_HASH, KT_ERR_INVALID,
	     "pbkdf2-sha256 hash: salt is not unpadded base64"},
	    {"$pbkdf2-sha256$i=1000$" PB_SALT "$" PB_HASH "=", KT_ERR_INVALID,
	     "pbkdf2-sha256 hash: hash is not unpadded base64"},
	    {"$pbkdf2-sha256$i=1000$YWJj$" PB_HASH, KT_ERR_INVALID,
	     "pbkdf2-sha256 hash: salt must be 4 to 64 bytes"},
	    {"$pbkdf2-sha256$i=1000$" PB_SALT "$AAAAAAAAAAAAAAAAAAAA",
	     KT_ERR_INVALID, "pbkdf2-sha256 hash: hash must be 16 to 64 bytes"},
	    /* PBKDF2, Django form */
	    {"pbkdf2_sha256$", KT_ERR_INVALID,
	     "Django pbkdf2_sha256 hash: bad iteration count"},
	    {"pbkdf2_sha256$i=1000$seasalt$" DJ_HASH, KT_ERR_INVALID,
	     "Django pbkdf2_sha256 hash: bad iteration count"},
	    {"pbkdf2_sha256$01000$seasalt$" DJ_HASH, KT_ERR_INVALID,
	     "Django pbkdf2_sha256 hash: bad iteration count"},
	    {"pbkdf2_sha256$1000$seasalt", KT_ERR_INVALID,
	     "Django pbkdf2_sha256 hash: missing hash after salt"},
	    {"pbkdf2_sha256$1000$$" DJ_HASH, KT_ERR_INVALID, dj_salt},
	    {"pbkdf2_sha256$1000$sea salt$" DJ_HASH, KT_ERR_INVALID, dj_salt},
	    {"pbkdf2_sha256$1000$sea\xc3\xa4salt$" DJ_HASH, KT_ERR_INVALID,
	     dj_salt},
	    {"pbkdf2_sha256$1000$"
	     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	     "$" DJ_HASH,
	     KT_ERR_INVALID, dj_salt},
	    {"pbkdf2_sha256$1000$seasalt$", KT_ERR_INVALID, dj_hash},
	    {"pbkdf2_sha256$1000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9Bnn"
	     "hgX4A",
	     KT_ERR_INVALID, dj_hash},
	    {"pbkdf2_sha256$1000$seasalt$" DJ_HASH "$", KT_ERR_INVALID,
	     dj_hash},
	    {"pbkdf2_sha256$1000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9Bnn"
	     "hgX4B=",
	     KT_ERR_INVALID, dj_hash},
	    {"pbkdf2_sha256$1000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9Bnn"
	     "hgX4-=",
	     KT_ERR_INVALID, dj_hash},
	    /* 48 bytes: a longer dkLen than Django writes */
	    {"pbkdf2_sha256$1000$seasalt$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	     "AAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	     KT_ERR_INVALID, dj_hash},
	    /* salted SHA-1 */
	    {"{SSHA1-HEX}", KT_ERR_INVALID,
	     "SSHA1-HEX hash: missing '$' between salt and hash"},
	    {"{SSHA1-HEX}00" SHA1_HEX, KT_ERR_INVALID,
	     "SSHA1-HEX hash: missing '$' between salt and hash"},
	    {"{SSHA1-HEX}$" SHA1_HEX, KT_ERR_INVALID, ss_salt},
	    {"{SSHA1-HEX}0$" SHA1_HEX, KT_ERR_INVALID, ss_salt},
	    {"{SSHA1-HEX}0A$" SHA1_HEX, KT_ERR_INVALID, ss_salt},
	    {"{SSHA1-HEX}0g$" SHA1_HEX, KT_ERR_INVALID, ss_salt},
	    {"{SSHA1-HEX}"
	     "00000000000000000000000000000000000000000000000000000000000000000"
	     "000000000000000000000000000000000000000000000000000000000000000"
	     "00$" SHA1_HEX,
	     KT_ERR_INVALID, ss_salt},
	    {"{SSHA1-HEX}00$", KT_ERR_INVALID, ss_hash},
	    {"{SSHA1-HEX}00$" SHA1_HEX "0", KT_ERR_INVALID, ss_hash},
	    {"{SSHA1-HEX}00$9D33953D511C74F6C70241D2F7A65C34F97E666C",
	     KT_ERR_INVALID, ss_hash},
	    {"{SSHA1-HEX}00$" SHA1_HEX "$", KT_ERR_INVALID, ss_hash},
	};

	check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * Costs no system of ours wrote: refused before any work, so a planted
 * record cannot tie up a pool worker. Timed: 10 ms is far below one hash
 * at the smallest accepted cost.
 */
static void test_legacy_cost_bounds(void **state)
{
	static const char *bc = "bcrypt cost out of range (4 to 14)";
	static const char *s5 = "sha512-crypt rounds out of range (1000 to "
				"1000000)";
	static const char *pb =
	    "pbkdf2 iterations out of range (1000 to 10000000)";
	const struct bad_case cases[] = {
	    {"$2b$31$" BC_SH, KT_ERR_INVALID, bc},
	    {"$2a$15$" BC_SH, KT_ERR_INVALID, bc},
	    {"$2y$99$" BC_SH, KT_ERR_INVALID, bc},
	    {"$2b$03$" BC_SH, KT_ERR_INVALID, bc},
	    {"$2b$00$" BC_SH, KT_ERR_INVALID, bc},
	    {"$6$rounds=999999999$saltstring$" S512_H, KT_ERR_INVALID, s5},
	    {"$6$rounds=1000001$saltstring$" S512_H, KT_ERR_INVALID, s5},
	    {"$6$rounds=99999999999999999999999999$saltstring$" S512_H,
	     KT_ERR_INVALID, s5},
	    {"$6$rounds=999$saltstring$" S512_H, KT_ERR_INVALID, s5},
	    {"$6$rounds=0$saltstring$" S512_H, KT_ERR_INVALID, s5},
	    {"$pbkdf2-sha256$i=4294967296$" PB_SALT "$" PB_HASH, KT_ERR_INVALID,
	     pb},
	    {"$pbkdf2-sha256$i=10000001,l=32$" PB_SALT "$" PB_HASH,
	     KT_ERR_INVALID, pb},
	    {"$pbkdf2-sha256$i=999$" PB_SALT "$" PB_HASH, KT_ERR_INVALID, pb},
	    {"$pbkdf2-sha256$i=0$" PB_SALT "$" PB_HASH, KT_ERR_INVALID, pb},
	    {"pbkdf2_sha256$2000000000$seasalt$" DJ_HASH, KT_ERR_INVALID, pb},
	    {"pbkdf2_sha256$18446744073709551616$seasalt$" DJ_HASH,
	     KT_ERR_INVALID, pb},
	    {"pbkdf2_sha256$1$seasalt$" DJ_HASH, KT_ERR_INVALID, pb},
	    /*
	     * The bounds themselves are accepted: these fail only at the
	     * hash field, checked after the cost and before any work.
	     */
	    {"$2b$14$" BC_SH "x", KT_ERR_INVALID,
	     "bcrypt hash: salt and hash must be 53 characters"},
	    {"$2b$04$" BC_SH "x", KT_ERR_INVALID,
	     "bcrypt hash: salt and hash must be 53 characters"},
	    {"$6$rounds=1000000$saltstring$x", KT_ERR_INVALID,
	     "sha512-crypt hash: hash must be 86 characters of [./0-9A-Za-z]"},
	    {"$6$rounds=1000$saltstring$x", KT_ERR_INVALID,
	     "sha512-crypt hash: hash must be 86 characters of [./0-9A-Za-z]"},
	    {"$pbkdf2-sha256$i=10000000$" PB_SALT "$x", KT_ERR_INVALID,
	     "pbkdf2-sha256 hash: hash is not unpadded base64"},
	    {"pbkdf2_sha256$10000000$seasalt$x", KT_ERR_INVALID,
	     "Django pbkdf2_sha256 hash: hash must be 32 bytes in padded "
	     "base64"},
	};
	double t0, dt;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t0 = now_ms();
		check_cases(&cases[i], 1);
		dt = now_ms() - t0;
		if (dt >= 10.0)
			fail_msg("case %zu (%s) took %.2f ms", i, cases[i].phc,
				 dt);
	}
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
	    cmocka_unit_test(test_bcrypt),
	    cmocka_unit_test(test_sha512crypt),
	    cmocka_unit_test(test_pbkdf2),
	    cmocka_unit_test(test_ssha1),
	    cmocka_unit_test(test_legacy_malformed),
	    cmocka_unit_test(test_legacy_cost_bounds),
	    cmocka_unit_test(test_dummy_verify),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_policy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
