#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kontor/err.h"
#include "kontor/totp.h"
#include "kontor/util.h"

/* RFC 4226 Appendix D and RFC 6238 Appendix B (SHA1): the ASCII seed. */
static const uint8_t rfc_secret[] = "12345678901234567890";
#define RFC_LEN 20

static void test_rfc4226_hotp(void **state)
{
	static const char *const want[] = {
	    "755224", "287082", "359152", "969429", "338314",
	    "254676", "287922", "162583", "399871", "520489",
	};
	char out[9];

	for (uint64_t c = 0; c < 10; c++) {
		assert_int_equal(
		    kt_totp_hotp(rfc_secret, RFC_LEN, c, 6, out, sizeof(out)),
		    KT_OK);
		assert_string_equal(out, want[c]);
	}
}

static const struct {
	int64_t t;
	const char *code8;
} rfc6238[] = {
    {59, "94287082"},	      {1111111109, "07081804"},
    {1111111111, "14050471"}, {1234567890, "89005924"},
    {2000000000, "69279037"}, {20000000000, "65353130"},
};

static void test_rfc6238_vectors(void **state)
{
	char out[9];

	for (size_t i = 0; i < sizeof(rfc6238) / sizeof(rfc6238[0]); i++) {
		uint64_t step = (uint64_t)rfc6238[i].t / 30;
		int64_t matched = 0;

		assert_int_equal(kt_totp_hotp(rfc_secret, RFC_LEN, step, 8, out,
					      sizeof(out)),
				 KT_OK);
		assert_string_equal(out, rfc6238[i].code8);
		/* The 6-digit code is the same number mod 10^6. */
		assert_int_equal(kt_totp_verify(rfc_secret, RFC_LEN,
						rfc6238[i].code8 + 2,
						rfc6238[i].t, 0, -1, &matched),
				 KT_OK);
		assert_int_equal(matched, (int64_t)step);
	}
}

static void test_hotp_args(void **state)
{
	char out[9];

	assert_int_equal(kt_totp_hotp(rfc_secret, RFC_LEN, 0, 5, out, 9),
			 KT_ERR_INVALID);
	assert_int_equal(kt_totp_hotp(rfc_secret, RFC_LEN, 0, 9, out, 9),
			 KT_ERR_INVALID);
	assert_int_equal(kt_totp_hotp(rfc_secret, RFC_LEN, 0, 8, out, 8),
			 KT_ERR_INVALID);
	assert_int_equal(kt_totp_hotp(NULL, RFC_LEN, 0, 6, out, 9),
			 KT_ERR_INVALID);
	assert_int_equal(kt_totp_hotp(rfc_secret, 0, 0, 6, out, 9),
			 KT_ERR_INVALID);
	assert_int_equal(
	    kt_totp_hotp(rfc_secret, KT_TOTP_SECRET_MAX + 1, 0, 6, out, 9),
	    KT_ERR_INVALID);
	assert_int_equal(kt_totp_hotp(rfc_secret, RFC_LEN, 0, 7, out, 8),
			 KT_OK);
	assert_string_equal(out, "4755224"); /* 1284755224 mod 10^7 */
}

/* The 6-digit code for step s of the RFC secret. */
static void code_at(uint64_t s, char out[7])
{
	assert_int_equal(kt_totp_hotp(rfc_secret, RFC_LEN, s, 6, out, 7),
			 KT_OK);
}

static void test_window(void **state)
{
	const int64_t now = 1111111111; /* step 37037037, 1 s into it */
	const int64_t step = now / 30;
	int64_t m = 0;
	char c[7];

	code_at((uint64_t)(step - 1), c);
	assert_int_equal(kt_totp_verify(rfc_secret, RFC_LEN, c, now, 1, -1, &m),
			 KT_OK);
	assert_int_equal(m, step - 1);
	assert_int_equal(kt_totp_verify(rfc_secret, RFC_LEN, c, now, 0, -1, &m),
			 KT_ERR_DENIED);
	assert_int_equal(m, -1);

	code_at((uint64_t)(step + 1), c);
	assert_int_equal(kt_totp_verify(rfc_secret, RFC_LEN, c, now, 1, -1, &m),
			 KT_OK);
	assert_int_equal(m, step + 1);

	code_at((uint64_t)(step - 2), c);
	assert_int_equal(kt_totp_verify(rfc_secret, RFC_LEN, c, now, 1, -1, &m),
			 KT_ERR_DENIED);
	assert_int_equal(kt_totp_verify(rfc_secret, RFC_LEN, c, now, 2, -1, &m),
			 KT_OK);
	assert_int_equal(m, step - 2);

	code_at((uint64_t)(step + KT_TOTP_WINDOW_MAX), c);
	assert_int_equal(kt_totp_verify(rfc_secret, RFC_LEN, c, now,
					KT_TOTP_WINDOW_MAX, -1, &m),
			 KT_OK);
	assert_int_equal(m, step + KT_TOTP_WINDOW_MAX);

	/* At the epoch the steps before 0 do not exist; no underflow. */
	code_at(0, c);
	assert_int_equal(kt_totp_verify(rfc_secret, RFC_LEN, c, 0, 1, -1, &m),
			 KT_OK);
	assert_int_equal(m, 0);
	code_at(1, c);
	assert_int_equal(kt_totp_verify(rfc_secret, RFC_LEN, c, 29, 1, -1, &m),
			 KT_OK);
	assert_int_equal(m, 1);
}

static void test_replay(void **state)
{
	const int64_t now = 1234567890;
	const int64_t step = now / 30;
	int64_t m = 0;
	char c[7];

	code_at((uint64_t)step, c);
	assert_int_equal(
	    kt_totp_verify(rfc_secret, RFC_LEN, c, now, 1, step - 1, &m),
	    KT_OK);
	assert_int_equal(m, step);
	/* The same code again, the caller having stored m. */
	assert_int_equal(kt_totp_verify(rfc_secret, RFC_LEN, c, now, 1, m, &m),
			 KT_ERR_CONFLICT);
	assert_int_equal(m, -1);
	/* Still a replay 29 s later, inside the window. */
	assert_int_equal(
	    kt_totp_verify(rfc_secret, RFC_LEN, c, now + 29, 1, step, &m),
	    KT_ERR_CONFLICT);
	/* An older code after a newer one was used is a replay too. */
	code_at((uint64_t)(step - 1), c);
	assert_int_equal(
	    kt_totp_verify(rfc_secret, RFC_LEN, c, now, 1, step, &m),
	    KT_ERR_CONFLICT);
	/* The next step's code is fresh. */
	code_at((uint64_t)(step + 1), c);
	assert_int_equal(
	    kt_totp_verify(rfc_secret, RFC_LEN, c, now, 1, step, &m), KT_OK);
	assert_int_equal(m, step + 1);
	/* A wrong code with a stored step is DENIED, not CONFLICT. */
	assert_int_equal(
	    kt_totp_verify(rfc_secret, RFC_LEN, "000000", now, 0, step, &m),
	    KT_ERR_DENIED);
}

static void test_verify_rejects(void **state)
{
	const int64_t now = 59;
	int64_t m = 7;

	static const char *const bad[] = {
	    "",	       "28708",	  "2870820", "28708a", " 287082",
	    "287082 ", "287 082", "+87082",  "-87082", "２87082",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m = 7;
		assert_int_equal(
		    kt_totp_verify(rfc_secret, RFC_LEN, bad[i], now, 1, -1, &m),
		    KT_ERR_INVALID);
		assert_int_equal(m, -1);
	}
	assert_int_equal(
	    kt_totp_verify(rfc_secret, RFC_LEN, "287082", now, 0, -1, &m),
	    KT_OK);
	assert_int_equal(
	    kt_totp_verify(rfc_secret, RFC_LEN, NULL, now, 1, -1, &m),
	    KT_ERR_INVALID);
	assert_int_equal(
	    kt_totp_verify(NULL, RFC_LEN, "287082", now, 1, -1, &m),
	    KT_ERR_INVALID);
	assert_int_equal(kt_totp_verify(rfc_secret, KT_TOTP_SECRET_MIN - 1,
					"287082", now, 1, -1, &m),
			 KT_ERR_INVALID);
	assert_int_equal(kt_totp_verify(rfc_secret, KT_TOTP_SECRET_MAX + 1,
					"287082", now, 1, -1, &m),
			 KT_ERR_INVALID);
	assert_int_equal(
	    kt_totp_verify(rfc_secret, RFC_LEN, "287082", now, -1, -1, &m),
	    KT_ERR_INVALID);
	assert_int_equal(kt_totp_verify(rfc_secret, RFC_LEN, "287082", now,
					KT_TOTP_WINDOW_MAX + 1, -1, &m),
			 KT_ERR_INVALID);
	assert_int_equal(
	    kt_totp_verify(rfc_secret, RFC_LEN, "287082", -1, 1, -1, &m),
	    KT_ERR_INVALID);
	assert_int_equal(
	    kt_totp_verify(rfc_secret, RFC_LEN, "287082", now, 1, -2, &m),
	    KT_ERR_INVALID);
	assert_int_equal(
	    kt_totp_verify(rfc_secret, RFC_LEN, "287082", now, 1, -1, NULL),
	    KT_ERR_INVALID);
}

static void test_secret_new(void **state)
{
	uint8_t a[KT_TOTP_SECRET_LEN], b[KT_TOTP_SECRET_LEN];

	assert_int_equal(KT_TOTP_SECRET_LEN, 20);
	assert_int_equal(kt_totp_secret_new(a), KT_OK);
	assert_int_equal(kt_totp_secret_new(b), KT_OK);
	assert_memory_not_equal(a, b, sizeof(a));
}

/* RFC 4648 section 10. */
static const struct {
	const char *raw, *b32;
} b32_vectors[] = {
    {"", ""},
    {"f", "MY"},
    {"fo", "MZXQ"},
    {"foo", "MZXW6"},
    {"foob", "MZXW6YQ"},
    {"fooba", "MZXW6YTB"},
    {"foobar", "MZXW6YTBOI"},
};

static void test_base32_vectors(void **state)
{
	char enc[32];
	uint8_t dec[16];
	size_t n = 99;
	struct kt_error err;

	for (size_t i = 0; i < sizeof(b32_vectors) / sizeof(b32_vectors[0]);
	     i++) {
		const char *raw = b32_vectors[i].raw, *b32 = b32_vectors[i].b32;

		assert_int_equal(kt_totp_base32_len(strlen(raw)), strlen(b32));
		assert_int_equal(kt_totp_base32_encode(
				     enc, (const uint8_t *)raw, strlen(raw)),
				 strlen(b32));
		assert_string_equal(enc, b32);
		assert_int_equal(
		    kt_totp_base32_decode(dec, sizeof(dec), &n, b32, &err),
		    KT_OK);
		assert_int_equal(n, strlen(raw));
		assert_memory_equal(dec, raw, n);
	}
	/* Case-insensitive, spaces anywhere, RFC 4648 padding tolerated. */
	assert_int_equal(
	    kt_totp_base32_decode(dec, sizeof(dec), &n, " mzxw 6Ytb oi ", &err),
	    KT_OK);
	assert_int_equal(n, 6);
	assert_memory_equal(dec, "foobar", 6);
	assert_int_equal(
	    kt_totp_base32_decode(dec, sizeof(dec), &n, "MZXW6YQ=", &err),
	    KT_OK);
	assert_int_equal(n, 4);
	assert_int_equal(
	    kt_totp_base32_decode(dec, sizeof(dec), &n, "MY====== ", &err),
	    KT_OK);
	assert_int_equal(n, 1);
}

static void expect_b32_error(const char *in, size_t cap, int code,
			     const char *msg)
{
	uint8_t dec[64];
	size_t n = 99;
	struct kt_error err;

	kt_error_clear(&err);
	assert_int_equal(kt_totp_base32_decode(dec, cap, &n, in, &err), code);
	assert_int_equal(err.code, code);
	assert_string_equal(err.msg, msg);
	assert_int_equal(n, 0);
}

static void test_base32_rejects(void **state)
{
	char longin[KT_TOTP_BASE32_IN_MAX + 2];

	expect_b32_error("MZXW1", 64, KT_ERR_INVALID,
			 "invalid base32 character at offset 4");
	expect_b32_error("MZXW8", 64, KT_ERR_INVALID,
			 "invalid base32 character at offset 4");
	expect_b32_error("MZ-XW", 64, KT_ERR_INVALID,
			 "invalid base32 character at offset 2");
	expect_b32_error("MY=A", 64, KT_ERR_INVALID,
			 "base32 data after padding at offset 3");
	expect_b32_error("M", 64, KT_ERR_INVALID,
			 "base32 text has an impossible length");
	expect_b32_error("MZX", 64, KT_ERR_INVALID,
			 "base32 text has an impossible length");
	expect_b32_error("MZXW6Y", 64, KT_ERR_INVALID,
			 "base32 text has an impossible length");
	expect_b32_error("MZ", 64, KT_ERR_INVALID,
			 "base32 text has non-zero trailing bits");
	expect_b32_error("MZXW6YTBOI", 5, KT_ERR_LIMIT,
			 "base32 data longer than 5 bytes");
	expect_b32_error(NULL, 64, KT_ERR_INVALID, "no base32 text");
	memset(longin, 'A', sizeof(longin) - 1);
	longin[sizeof(longin) - 1] = '\0';
	expect_b32_error(longin, 64, KT_ERR_LIMIT,
			 "base32 text longer than 256 bytes");
	/* Exactly at the bound is read (and then is too long for cap). */
	longin[KT_TOTP_BASE32_IN_MAX] = '\0';
	memset(longin, ' ', KT_TOTP_BASE32_IN_MAX - 8);
	{
		uint8_t dec[8];
		size_t n = 0;
		assert_int_equal(
		    kt_totp_base32_decode(dec, sizeof(dec), &n, longin, NULL),
		    KT_OK);
		assert_int_equal(n, 5);
	}
}

static void test_secret_display(void **state)
{
	static const uint8_t hello[] = "Hello!\xde\xad\xbe\xef";
	uint8_t s[KT_TOTP_SECRET_LEN], back[KT_TOTP_SECRET_LEN];
	char out[KT_TOTP_SECRET_LEN * 8 / 5 * 5 / 4 + 1];
	size_t n = 0;

	assert_int_equal(kt_totp_secret_display(out, hello, 10), 19);
	assert_string_equal(out, "JBSW Y3DP EHPK 3PXP");

	assert_int_equal(kt_totp_secret_new(s), KT_OK);
	assert_int_equal(kt_totp_secret_display(out, s, sizeof(s)), 39);
	for (int i = 4; i < 39; i += 5)
		assert_int_equal(out[i], ' ');
	assert_int_equal(
	    kt_totp_base32_decode(back, sizeof(back), &n, out, NULL), KT_OK);
	assert_int_equal(n, sizeof(s));
	assert_memory_equal(back, s, sizeof(s));

	assert_int_equal(kt_totp_secret_display(out, hello, 1), 2);
	assert_string_equal(out, "JA");
	assert_int_equal(kt_totp_secret_display(out, hello, 0), 0);
	assert_string_equal(out, "");
}

static void test_uri(void **state)
{
	static const uint8_t hello[] = "Hello!\xde\xad\xbe\xef";
	struct kt_error err;
	char *uri = NULL;

	/* The example of Google's Key Uri Format. */
	assert_int_equal(
	    kt_totp_uri("ACME Co", "john.doe@email.com", hello, 10, &uri, &err),
	    KT_OK);
	assert_string_equal(uri, "otpauth://totp/ACME%20Co:john.doe@email.com"
				 "?secret=JBSWY3DPEHPK3PXP&issuer=ACME%20Co"
				 "&algorithm=SHA1&digits=6&period=30");
	kt_free_secret(uri);

	/* UTF-8 bytes and reserved characters are encoded; '+' too. */
	assert_int_equal(kt_totp_uri("Müller GmbH & Co. KG", "a+b/c?d#e=f%",
				     hello, 10, &uri, &err),
			 KT_OK);
	assert_string_equal(
	    uri, "otpauth://totp/M%C3%BCller%20GmbH%20%26%20Co.%20KG:"
		 "a%2Bb%2Fc%3Fd%23e%3Df%25"
		 "?secret=JBSWY3DPEHPK3PXP"
		 "&issuer=M%C3%BCller%20GmbH%20%26%20Co.%20KG"
		 "&algorithm=SHA1&digits=6&period=30");
	kt_free_secret(uri);
}

static void expect_uri_error(const char *issuer, const char *account,
			     size_t len, int code, const char *msg)
{
	static const uint8_t secret[KT_TOTP_SECRET_MAX + 1] = {1};
	struct kt_error err;
	char *uri = (char *)"sentinel";

	kt_error_clear(&err);
	assert_int_equal(kt_totp_uri(issuer, account, secret, len, &uri, &err),
			 code);
	assert_string_equal(err.msg, msg);
	assert_null(uri);
}

static void test_uri_rejects(void **state)
{
	char longs[KT_TOTP_ACCOUNT_MAX + 2];

	expect_uri_error("ACME:Co", "a@b.de", 20, KT_ERR_INVALID,
			 "issuer contains ':'");
	expect_uri_error("ACME", "x:a@b.de", 20, KT_ERR_INVALID,
			 "account contains ':'");
	expect_uri_error("", "a@b.de", 20, KT_ERR_INVALID, "issuer is empty");
	expect_uri_error(NULL, "a@b.de", 20, KT_ERR_INVALID, "issuer is empty");
	expect_uri_error("ACME", "", 20, KT_ERR_INVALID, "account is empty");
	expect_uri_error("ACME\n", "a@b.de", 20, KT_ERR_INVALID,
			 "issuer contains a control character");
	expect_uri_error("ACME", "a\x7f", 20, KT_ERR_INVALID,
			 "account contains a control character");
	expect_uri_error("AC\xc3", "a@b.de", 20, KT_ERR_INVALID,
			 "issuer is not valid UTF-8");
	expect_uri_error("ACME", "a@b.de", 0, KT_ERR_INVALID,
			 "secret is empty");
	expect_uri_error("ACME", "a@b.de", KT_TOTP_SECRET_MAX + 1, KT_ERR_LIMIT,
			 "secret longer than 64 bytes");
	memset(longs, 'a', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = '\0';
	expect_uri_error("ACME", longs, 20, KT_ERR_LIMIT,
			 "account longer than 256 bytes");
	longs[KT_TOTP_ISSUER_MAX + 1] = '\0';
	expect_uri_error(longs, "a@b.de", 20, KT_ERR_LIMIT,
			 "issuer longer than 128 bytes");
	assert_int_equal(kt_totp_uri("ACME", "a", rfc_secret, 20, NULL, NULL),
			 KT_ERR_INVALID);
}

static void test_uri_worst_case(void **state)
{
	/* Every byte percent-encoded at both maximum lengths. */
	char issuer[KT_TOTP_ISSUER_MAX + 1], account[KT_TOTP_ACCOUNT_MAX + 1];
	uint8_t secret[KT_TOTP_SECRET_MAX] = {0};
	char *uri = NULL;

	memset(issuer, '&', KT_TOTP_ISSUER_MAX);
	issuer[KT_TOTP_ISSUER_MAX] = '\0';
	memset(account, ' ', KT_TOTP_ACCOUNT_MAX);
	account[KT_TOTP_ACCOUNT_MAX] = '\0';
	assert_int_equal(
	    kt_totp_uri(issuer, account, secret, sizeof(secret), &uri, NULL),
	    KT_OK);
	assert_int_equal(
	    strlen(uri),
	    strlen("otpauth://totp/:?secret=&issuer="
		   "&algorithm=SHA1&digits=6&period=30") +
		3 * (2 * KT_TOTP_ISSUER_MAX + KT_TOTP_ACCOUNT_MAX) +
		kt_totp_base32_len(sizeof(secret)));
	kt_free_secret(uri);
}

static void test_derive_key(void **state)
{
	/* HKDF-SHA256 without salt, computed independently (Python hmac). */
	static const uint8_t want[32] = {
	    0xb4, 0xe2, 0x81, 0x0d, 0x3b, 0x3e, 0x35, 0x4e, 0x6c, 0x05, 0xe6,
	    0x58, 0xcf, 0x26, 0x04, 0xa9, 0x03, 0x53, 0x0e, 0xe8, 0xc3, 0x5a,
	    0x52, 0xd9, 0xe9, 0x36, 0x5e, 0x6c, 0xb8, 0x91, 0xa1, 0xb7};
	uint8_t ikm[32], a[32], b[32];

	for (int i = 0; i < 32; i++)
		ikm[i] = (uint8_t)i;
	assert_int_equal(kt_totp_derive_key(ikm, 32, KT_TOTP_SEAL_LABEL, a),
			 KT_OK);
	assert_memory_equal(a, want, 32);
	assert_int_equal(kt_totp_derive_key(ikm, 32, KT_TOTP_RECOVERY_LABEL, b),
			 KT_OK);
	assert_memory_not_equal(a, b, 32);

	assert_int_equal(kt_totp_derive_key(ikm, 15, "x", a), KT_ERR_INVALID);
	assert_int_equal(kt_totp_derive_key(NULL, 32, "x", a), KT_ERR_INVALID);
	assert_int_equal(kt_totp_derive_key(ikm, 32, "", a), KT_ERR_INVALID);
	assert_int_equal(kt_totp_derive_key(ikm, 32, NULL, a), KT_ERR_INVALID);
}

struct seal_fixture {
	uint8_t key[32];
	uint8_t secret[KT_TOTP_SECRET_LEN];
	char *sealed;
};

static int seal_setup(void **state)
{
	struct seal_fixture *f = calloc(1, sizeof(*f));
	uint8_t ikm[32];

	if (f == NULL)
		return -1;
	memset(ikm, 0x42, sizeof(ikm));
	if (kt_totp_derive_key(ikm, sizeof(ikm), KT_TOTP_SEAL_LABEL, f->key) !=
		KT_OK ||
	    kt_totp_secret_new(f->secret) != KT_OK ||
	    kt_totp_seal(f->key, "person-1", f->secret, sizeof(f->secret),
			 &f->sealed) != KT_OK) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int seal_teardown(void **state)
{
	struct seal_fixture *f = *state;

	free(f->sealed);
	free(f);
	return 0;
}

static void test_seal_roundtrip(void **state)
{
	struct seal_fixture *f = *state;
	uint8_t out[KT_TOTP_SECRET_MAX];
	size_t n = 0;
	struct kt_error err;
	char *again = NULL;

	/* "v1." + 16 (96-bit nonce) + "." + 48 (20 + 16 bytes). */
	assert_int_equal(strncmp(f->sealed, "v1.", 3), 0);
	assert_int_equal(strlen(f->sealed), 3 + 16 + 1 + 48);
	assert_int_equal(f->sealed[19], '.');
	assert_int_equal(kt_totp_open(f->key, "person-1", f->sealed, out,
				      sizeof(out), &n, &err),
			 KT_OK);
	assert_int_equal(n, sizeof(f->secret));
	assert_memory_equal(out, f->secret, n);

	/* A fresh nonce each time. */
	assert_int_equal(kt_totp_seal(f->key, "person-1", f->secret,
				      sizeof(f->secret), &again),
			 KT_OK);
	assert_string_not_equal(again, f->sealed);
	assert_int_equal(
	    kt_totp_open(f->key, "person-1", again, out, sizeof(out), &n, &err),
	    KT_OK);
	assert_memory_equal(out, f->secret, n);
	free(again);

	/* Exactly enough room. */
	assert_int_equal(
	    kt_totp_open(f->key, "person-1", f->sealed, out, 20, &n, &err),
	    KT_OK);
}

static void expect_open_error(const uint8_t key[32], const char *person,
			      const char *sealed, size_t cap, int code,
			      const char *msg)
{
	uint8_t out[KT_TOTP_SECRET_MAX];
	size_t n = 99;
	struct kt_error err;

	kt_error_clear(&err);
	assert_int_equal(kt_totp_open(key, person, sealed, out, cap, &n, &err),
			 code);
	assert_string_equal(err.msg, msg);
	assert_int_equal(n, 0);
}

/* s with the character at i replaced by another base64url character. */
static char *flip(const char *s, size_t i)
{
	char *c = strdup(s);

	assert_non_null(c);
	c[i] = c[i] == 'A' ? 'B' : 'A';
	return c;
}

static void test_open_rejects(void **state)
{
	struct seal_fixture *f = *state;
	const char *deny = "sealed secret does not authenticate";
	uint8_t other[32];
	char *bad, longs[KT_TOTP_SEALED_MAX + 2];

	/* Moved to another account: the associated data differs. */
	expect_open_error(f->key, "person-2", f->sealed, 64, KT_ERR_DENIED,
			  deny);
	memcpy(other, f->key, 32);
	other[0] ^= 1;
	expect_open_error(other, "person-1", f->sealed, 64, KT_ERR_DENIED,
			  deny);
	bad = flip(f->sealed, 25); /* ciphertext */
	expect_open_error(f->key, "person-1", bad, 64, KT_ERR_DENIED, deny);
	free(bad);
	bad = flip(f->sealed, 60); /* tag */
	expect_open_error(f->key, "person-1", bad, 64, KT_ERR_DENIED, deny);
	free(bad);
	bad = flip(f->sealed, 5); /* nonce */
	expect_open_error(f->key, "person-1", bad, 64, KT_ERR_DENIED, deny);
	free(bad);

	bad = strdup(f->sealed);
	bad[1] = '2';
	expect_open_error(f->key, "person-1", bad, 64, KT_ERR_UNSUPPORTED,
			  "unknown sealed secret version");
	free(bad);
	expect_open_error(f->key, "person-1", "v10.AAAA.AAAA", 64,
			  KT_ERR_UNSUPPORTED, "unknown sealed secret version");
	expect_open_error(f->key, "person-1", "JBSWY3DPEHPK3PXP", 64,
			  KT_ERR_INVALID, "sealed secret has no version");
	expect_open_error(f->key, "person-1", "v1.AAAAAAAAAAAAAAAA", 64,
			  KT_ERR_INVALID, "sealed secret has no ciphertext");
	expect_open_error(f->key, "person-1", "v1.AAAA.AAAAAAAAAAAAAAAAAAAAAA",
			  64, KT_ERR_INVALID, "sealed secret has a bad nonce");
	expect_open_error(f->key, "person-1", "v1.AAAAAAAAAAAAAAA!.AAAA", 64,
			  KT_ERR_INVALID, "sealed secret has a bad nonce");
	/* Only a tag, no ciphertext. */
	expect_open_error(f->key, "person-1",
			  "v1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA", 64,
			  KT_ERR_INVALID, "sealed secret has a bad ciphertext");
	expect_open_error(f->key, "person-1", "v1.AAAAAAAAAAAAAAAA.", 64,
			  KT_ERR_INVALID, "sealed secret has a bad ciphertext");
	expect_open_error(f->key, "person-1", "v1.AAAAAAAAAAAAAAAA.A.A", 64,
			  KT_ERR_INVALID, "sealed secret has a bad ciphertext");
	memset(longs, 'A', sizeof(longs) - 1);
	memcpy(longs, "v1.", 3);
	longs[sizeof(longs) - 1] = '\0';
	expect_open_error(f->key, "person-1", longs, 64, KT_ERR_LIMIT,
			  "sealed secret longer than 256 bytes");
	expect_open_error(f->key, "person-1", f->sealed, 19, KT_ERR_LIMIT,
			  "secret does not fit in 19 bytes");
	expect_open_error(f->key, "", f->sealed, 64, KT_ERR_INVALID,
			  "missing argument");
	expect_open_error(f->key, NULL, f->sealed, 64, KT_ERR_INVALID,
			  "missing argument");
	expect_open_error(f->key, "person-1", NULL, 64, KT_ERR_INVALID,
			  "missing argument");
	memset(longs, 'p', KT_TOTP_PERSON_MAX + 1);
	longs[KT_TOTP_PERSON_MAX + 1] = '\0';
	expect_open_error(f->key, longs, f->sealed, 64, KT_ERR_LIMIT,
			  "person id longer than 256 bytes");
}

static void test_seal_rejects(void **state)
{
	struct seal_fixture *f = *state;
	uint8_t big[KT_TOTP_SECRET_MAX + 1] = {0};
	char longp[KT_TOTP_PERSON_MAX + 2];
	char *out = (char *)"sentinel";

	assert_int_equal(kt_totp_seal(f->key, "p", big, sizeof(big), &out),
			 KT_ERR_LIMIT);
	assert_null(out);
	assert_int_equal(
	    kt_totp_seal(f->key, "p", big, KT_TOTP_SECRET_MAX, &out), KT_OK);
	free(out);
	memset(longp, 'p', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(kt_totp_seal(f->key, longp, big, 20, &out),
			 KT_ERR_LIMIT);
	assert_int_equal(kt_totp_seal(f->key, "", big, 20, &out),
			 KT_ERR_INVALID);
	assert_int_equal(kt_totp_seal(f->key, NULL, big, 20, &out),
			 KT_ERR_INVALID);
	assert_int_equal(kt_totp_seal(f->key, "p", big, 0, &out),
			 KT_ERR_INVALID);
	assert_int_equal(kt_totp_seal(NULL, "p", big, 20, &out),
			 KT_ERR_INVALID);
	assert_int_equal(kt_totp_seal(f->key, "p", big, 20, NULL),
			 KT_ERR_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc4226_hotp),
	    cmocka_unit_test(test_rfc6238_vectors),
	    cmocka_unit_test(test_hotp_args),
	    cmocka_unit_test(test_window),
	    cmocka_unit_test(test_replay),
	    cmocka_unit_test(test_verify_rejects),
	    cmocka_unit_test(test_secret_new),
	    cmocka_unit_test(test_base32_vectors),
	    cmocka_unit_test(test_base32_rejects),
	    cmocka_unit_test(test_secret_display),
	    cmocka_unit_test(test_uri),
	    cmocka_unit_test(test_uri_rejects),
	    cmocka_unit_test(test_uri_worst_case),
	    cmocka_unit_test(test_derive_key),
	    cmocka_unit_test_setup_teardown(test_seal_roundtrip, seal_setup,
					    seal_teardown),
	    cmocka_unit_test_setup_teardown(test_open_rejects, seal_setup,
					    seal_teardown),
	    cmocka_unit_test_setup_teardown(test_seal_rejects, seal_setup,
					    seal_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
