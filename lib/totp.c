#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>

#include "kontor/err.h"
#include "kontor/totp.h"
#include "kontor/util.h"

#define SEAL_VERSION "v1"
#define SEAL_NONCE_LEN 12
#define SEAL_TAG_LEN 16

int kt_totp_secret_new(uint8_t out[KT_TOTP_SECRET_LEN])
{
	return kt_random_bytes(out, KT_TOTP_SECRET_LEN);
}

/* ---- base32 (RFC 4648 section 6) ---------------------------------------- */

static const char b32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

size_t kt_totp_base32_len(size_t n)
{
	return (n / 5) * 8 + ((n % 5) * 8 + 4) / 5;
}

size_t kt_totp_base32_encode(char *out, const uint8_t *in, size_t n)
{
	uint32_t acc = 0;
	size_t o = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[o++] = b32_alphabet[(acc >> bits) & 31];
		}
	}
	if (bits > 0)
		out[o++] = b32_alphabet[(acc << (5 - bits)) & 31];
	out[o] = '\0';
	return o;
}

size_t kt_totp_secret_display(char *out, const uint8_t *in, size_t n)
{
	size_t len = kt_totp_base32_len(n), o = 0;
	char *enc;

	/* Encode at the end of out, then spread it forwards into groups. */
	enc = out + len / 4;
	kt_totp_base32_encode(enc, in, n);
	for (size_t i = 0; i < len; i++) {
		if (i > 0 && i % 4 == 0)
			out[o++] = ' ';
		out[o++] = enc[i];
	}
	out[o] = '\0';
	return o;
}

static int b32_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

int kt_totp_base32_decode(uint8_t *out, size_t outcap, size_t *outlen,
			  const char *in, struct kt_error *err)
{
	uint32_t acc = 0;
	size_t n = 0, symbols = 0, inlen;
	int bits = 0, padding = 0;

	*outlen = 0;
	if (in == NULL)
		return kt_error_set(err, KT_ERR_INVALID, "no base32 text");
	inlen = strnlen(in, KT_TOTP_BASE32_IN_MAX + 1);
	if (inlen > KT_TOTP_BASE32_IN_MAX)
		return kt_error_set(err, KT_ERR_LIMIT,
				    "base32 text longer than %d bytes",
				    KT_TOTP_BASE32_IN_MAX);
	for (size_t i = 0; i < inlen; i++) {
		unsigned char c = (unsigned char)in[i];
		int v;

		if (c == ' ')
			continue;
		if (c == '=') {
			padding = 1;
			continue;
		}
		if (padding)
			return kt_error_set(err, KT_ERR_INVALID,
					    "base32 data after padding at "
					    "offset %zu",
					    i);
		if ((v = b32_value(c)) < 0)
			return kt_error_set(err, KT_ERR_INVALID,
					    "invalid base32 character at "
					    "offset %zu",
					    i);
		symbols++;
		acc = (acc << 5) | (uint32_t)v;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			if (n >= outcap) {
				OPENSSL_cleanse(out, n);
				return kt_error_set(err, KT_ERR_LIMIT,
						    "base32 data longer than "
						    "%zu bytes",
						    outcap);
			}
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	/* A last group of 1, 3 or 6 symbols cannot come from whole bytes. */
	switch (symbols % 8) {
	case 1:
	case 3:
	case 6:
		OPENSSL_cleanse(out, n);
		return kt_error_set(err, KT_ERR_INVALID,
				    "base32 text has an impossible length");
	}
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
		OPENSSL_cleanse(out, n);
		return kt_error_set(err, KT_ERR_INVALID,
				    "base32 text has non-zero trailing bits");
	}
	acc = 0;
	*outlen = n;
	return KT_OK;
}

/* ---- provisioning URI ---------------------------------------------------- */

/* Append to a buffer sized in advance; never overflows, reports truncation. */
struct strbuf {
	char *p;
	size_t len, cap;
};

static void sb_add(struct strbuf *b, const char *s, size_t n)
{
	if (b->len + n >= b->cap) {
		b->cap = 0; /* mark as overflowed; checked once at the end */
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_str(struct strbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/*
 * RFC 3986 percent-encoding. '@' stays literal: it is a valid pchar and
 * query character, and Google's own examples show e-mail addresses so.
 */
static void sb_pct(struct strbuf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		    *p == '_' || *p == '~' || *p == '@') {
			sb_add(b, (const char *)p, 1);
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			sb_add(b, e, 3);
		}
	}
}

static int check_label_part(const char *what, const char *s, size_t max,
			    struct kt_error *err)
{
	size_t n;

	if (s == NULL || *s == '\0')
		return kt_error_set(err, KT_ERR_INVALID, "%s is empty", what);
	n = strnlen(s, max + 1);
	if (n > max)
		return kt_error_set(err, KT_ERR_LIMIT,
				    "%s longer than %zu bytes", what, max);
	if (!kt_utf8_valid(s, n))
		return kt_error_set(err, KT_ERR_INVALID,
				    "%s is not valid UTF-8", what);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return kt_error_set(err, KT_ERR_INVALID,
					    "%s contains a control character",
					    what);
		if (c == ':')
			return kt_error_set(err, KT_ERR_INVALID,
					    "%s contains ':'", what);
	}
	return KT_OK;
}

int kt_totp_uri(const char *issuer, const char *account, const uint8_t *secret,
		size_t len, char **out, struct kt_error *err)
{
	char b32[KT_TOTP_SECRET_MAX * 8 / 5 + 2];
	struct strbuf b = {0};
	int r;

	if (out == NULL)
		return kt_error_set(err, KT_ERR_INVALID, "no output");
	*out = NULL;
	if ((r = check_label_part("issuer", issuer, KT_TOTP_ISSUER_MAX, err)) !=
		KT_OK ||
	    (r = check_label_part("account", account, KT_TOTP_ACCOUNT_MAX,
				  err)) != KT_OK)
		return r;
	if (secret == NULL || len == 0)
		return kt_error_set(err, KT_ERR_INVALID, "secret is empty");
	if (len > KT_TOTP_SECRET_MAX)
		return kt_error_set(err, KT_ERR_LIMIT,
				    "secret longer than %d bytes",
				    KT_TOTP_SECRET_MAX);

	/* Worst case: every label byte encoded as %XX, issuer twice. */
	b.cap = 128 + 3 * (2 * strlen(issuer) + strlen(account)) + sizeof(b32);
	if ((b.p = malloc(b.cap)) == NULL)
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	b.p[0] = '\0';
	kt_totp_base32_encode(b32, secret, len);

	sb_str(&b, "otpauth://totp/");
	sb_pct(&b, issuer);
	sb_str(&b, ":");
	sb_pct(&b, account);
	sb_str(&b, "?secret=");
	sb_str(&b, b32);
	sb_str(&b, "&issuer=");
	sb_pct(&b, issuer);
	sb_str(&b, "&algorithm=SHA1&digits=6&period=30");
	OPENSSL_cleanse(b32, sizeof(b32));
	if (b.cap == 0) {
		/* Cannot happen with the size above; fail closed anyway. */
		kt_free_secret(b.p);
		return kt_error_set(err, KT_ERR_INTERNAL,
				    "URI buffer too small");
	}
	*out = b.p;
	return KT_OK;
}

/* ---- HOTP / TOTP --------------------------------------------------------- */

static const uint32_t pow10_tab[] = {1,	     10,      100,	1000,	  10000,
				     100000, 1000000, 10000000, 100000000};

/* RFC 4226 section 5.3: HMAC-SHA1 and dynamic truncation, before mod. */
static int hotp_raw(const uint8_t *secret, size_t len, uint64_t counter,
		    uint32_t *out)
{
	uint8_t msg[8], mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	unsigned off;

	for (int i = 7; i >= 0; i--) {
		msg[i] = (uint8_t)(counter & 0xff);
		counter >>= 8;
	}
	if (HMAC(EVP_sha1(), secret, (int)len, msg, sizeof(msg), mac,
		 &maclen) == NULL ||
	    maclen != 20) {
		OPENSSL_cleanse(mac, sizeof(mac));
		return KT_ERR_CRYPTO;
	}
	off = mac[19] & 0x0f;
	*out = ((uint32_t)(mac[off] & 0x7f) << 24) |
	       ((uint32_t)mac[off + 1] << 16) | ((uint32_t)mac[off + 2] << 8) |
	       (uint32_t)mac[off + 3];
	OPENSSL_cleanse(mac, sizeof(mac));
	return KT_OK;
}

/* Write v as exactly digits decimal digits, zero-padded (no NUL). */
static void put_digits(char *out, uint32_t v, unsigned digits)
{
	for (unsigned i = digits; i > 0; i--) {
		out[i - 1] = (char)('0' + v % 10);
		v /= 10;
	}
}

int kt_totp_hotp(const uint8_t *secret, size_t len, uint64_t counter,
		 unsigned digits, char *out, size_t outcap)
{
	uint32_t v;
	int r;

	if (secret == NULL || len == 0 || len > KT_TOTP_SECRET_MAX ||
	    out == NULL || digits < 6 || digits > 8 || outcap < digits + 1)
		return KT_ERR_INVALID;
	if ((r = hotp_raw(secret, len, counter, &v)) != KT_OK)
		return r;
	put_digits(out, v % pow10_tab[digits], digits);
	out[digits] = '\0';
	return KT_OK;
}

/* All ones if a == b, else zero; no branch on the values. */
static uint64_t ct_mask_eq(uint32_t a, uint32_t b)
{
	uint64_t x = (uint64_t)(a ^ b);
	return ((x - 1) >> 63) * UINT64_MAX;
}

int kt_totp_verify(const uint8_t *secret, size_t len, const char *code,
		   int64_t now, int window, int64_t last_used_step,
		   int64_t *matched_step)
{
	char want[KT_TOTP_DIGITS], got[KT_TOTP_DIGITS];
	uint64_t fresh = 0, replay = 0, best = 0;
	int64_t step;
	int ret = KT_ERR_DENIED;

	if (matched_step == NULL)
		return KT_ERR_INVALID;
	*matched_step = -1;
	if (secret == NULL || code == NULL || len < KT_TOTP_SECRET_MIN ||
	    len > KT_TOTP_SECRET_MAX || window < 0 ||
	    window > KT_TOTP_WINDOW_MAX || now < 0 || last_used_step < -1)
		return KT_ERR_INVALID;
	for (int i = 0; i < KT_TOTP_DIGITS; i++) {
		if (code[i] < '0' || code[i] > '9')
			return KT_ERR_INVALID;
	}
	if (code[KT_TOTP_DIGITS] != '\0')
		return KT_ERR_INVALID;
	memcpy(got, code, sizeof(got));

	/*
	 * Compute and compare every step of the window, and pick the result
	 * with masks: the time taken depends on the window, never on which
	 * step (if any) matched. Steps run upwards so the latest match wins.
	 */
	step = now / KT_TOTP_PERIOD;
	for (int64_t s = step - window; s <= step + window; s++) {
		uint32_t v;
		uint64_t eq, is_fresh;

		if (s < 0)
			continue; /* depends only on now and window */
		if (hotp_raw(secret, len, (uint64_t)s, &v) != KT_OK) {
			ret = KT_ERR_CRYPTO;
			goto cleanup;
		}
		put_digits(want, v % pow10_tab[KT_TOTP_DIGITS], KT_TOTP_DIGITS);
		eq = ct_mask_eq(
		    (uint32_t)CRYPTO_memcmp(want, got, KT_TOTP_DIGITS), 0);
		is_fresh = ((uint64_t)(last_used_step - s) >> 63) * UINT64_MAX;
		best =
		    (best & ~(eq & is_fresh)) | ((uint64_t)s & eq & is_fresh);
		fresh |= eq & is_fresh;
		replay |= eq & ~is_fresh;
	}
	if (fresh) {
		*matched_step = (int64_t)best;
		ret = KT_OK;
	} else if (replay) {
		ret = KT_ERR_CONFLICT;
	}
cleanup:
	OPENSSL_cleanse(want, sizeof(want));
	OPENSSL_cleanse(got, sizeof(got));
	return ret;
}

/* ---- key derivation and sealing ----------------------------------------- */

int kt_totp_derive_key(const uint8_t *ikm, size_t len, const char *label,
		       uint8_t out[32])
{
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *ctx = NULL;
	OSSL_PARAM params[4], *q = params;
	int ret = KT_ERR_CRYPTO;

	if (ikm == NULL || len < 16 || label == NULL || *label == '\0' ||
	    out == NULL)
		return KT_ERR_INVALID;
	if ((kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL)) == NULL ||
	    (ctx = EVP_KDF_CTX_new(kdf)) == NULL)
		goto cleanup;
	*q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						(char *)"SHA256", 0);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						 (void *)ikm, len);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
						 (void *)label, strlen(label));
	*q = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(ctx, out, 32, params) != 1)
		goto cleanup;
	ret = KT_OK;
cleanup:
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return ret;
}

int kt_totp_seal(const uint8_t key[32], const char *person_id,
		 const uint8_t *secret, size_t len, char **out)
{
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t nonce[SEAL_NONCE_LEN];
	uint8_t ct[KT_TOTP_SECRET_MAX + SEAL_TAG_LEN];
	size_t plen, cap, ctlen, o;
	char *s = NULL;
	int n = 0, ret = KT_ERR_CRYPTO;

	if (out == NULL)
		return KT_ERR_INVALID;
	*out = NULL;
	if (key == NULL || person_id == NULL || *person_id == '\0' ||
	    secret == NULL || len == 0)
		return KT_ERR_INVALID;
	plen = strnlen(person_id, KT_TOTP_PERSON_MAX + 1);
	if (len > KT_TOTP_SECRET_MAX || plen > KT_TOTP_PERSON_MAX)
		return KT_ERR_LIMIT;
	if ((ret = kt_random_bytes(nonce, sizeof(nonce))) != KT_OK)
		goto cleanup;
	ret = KT_ERR_CRYPTO;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &n, (const uint8_t *)person_id,
			      (int)plen) != 1 ||
	    EVP_EncryptUpdate(ctx, ct, &n, secret, (int)len) != 1 ||
	    (size_t)n != len || EVP_EncryptFinal_ex(ctx, ct + n, &n) != 1 ||
	    n != 0 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN,
				ct + len) != 1)
		goto cleanup;
	ctlen = len + SEAL_TAG_LEN;

	cap = strlen(SEAL_VERSION) + 2 + kt_b64url_len(sizeof(nonce)) +
	      kt_b64url_len(ctlen) + 1;
	if ((s = malloc(cap)) == NULL) {
		ret = KT_ERR_NOMEM;
		goto cleanup;
	}
	o = strlen(SEAL_VERSION);
	memcpy(s, SEAL_VERSION ".", o + 1);
	o++;
	o += kt_b64url_encode(s + o, nonce, sizeof(nonce));
	s[o++] = '.';
	kt_b64url_encode(s + o, ct, ctlen);
	*out = s;
	ret = KT_OK;
cleanup:
	EVP_CIPHER_CTX_free(ctx);
	OPENSSL_cleanse(ct, sizeof(ct));
	return ret;
}

int kt_totp_open(const uint8_t key[32], const char *person_id,
		 const char *sealed, uint8_t *out, size_t outcap,
		 size_t *outlen, struct kt_error *err)
{
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t nonce[SEAL_NONCE_LEN];
	uint8_t ct[KT_TOTP_SECRET_MAX + SEAL_TAG_LEN];
	uint8_t pt[KT_TOTP_SECRET_MAX];
	const char *dot1, *dot2;
	size_t slen, plen, nlen = 0, ctlen = 0, ptlen;
	int n = 0, r, ret = KT_ERR_CRYPTO;

	if (outlen == NULL)
		return kt_error_set(err, KT_ERR_INVALID, "no output length");
	*outlen = 0;
	if (key == NULL || out == NULL || person_id == NULL ||
	    *person_id == '\0' || sealed == NULL)
		return kt_error_set(err, KT_ERR_INVALID, "missing argument");
	plen = strnlen(person_id, KT_TOTP_PERSON_MAX + 1);
	if (plen > KT_TOTP_PERSON_MAX)
		return kt_error_set(err, KT_ERR_LIMIT,
				    "person id longer than %d bytes",
				    KT_TOTP_PERSON_MAX);
	slen = strnlen(sealed, KT_TOTP_SEALED_MAX + 1);
	if (slen > KT_TOTP_SEALED_MAX)
		return kt_error_set(err, KT_ERR_LIMIT,
				    "sealed secret longer than %d bytes",
				    KT_TOTP_SEALED_MAX);
	if ((dot1 = memchr(sealed, '.', slen)) == NULL)
		return kt_error_set(err, KT_ERR_INVALID,
				    "sealed secret has no version");
	if ((size_t)(dot1 - sealed) != strlen(SEAL_VERSION) ||
	    memcmp(sealed, SEAL_VERSION, strlen(SEAL_VERSION)) != 0)
		return kt_error_set(err, KT_ERR_UNSUPPORTED,
				    "unknown sealed secret version");
	dot1++;
	if ((dot2 = memchr(dot1, '.', slen - (size_t)(dot1 - sealed))) == NULL)
		return kt_error_set(err, KT_ERR_INVALID,
				    "sealed secret has no ciphertext");
	if ((r = kt_b64url_decode(nonce, sizeof(nonce), &nlen, dot1,
				  (size_t)(dot2 - dot1))) != KT_OK ||
	    nlen != sizeof(nonce))
		return kt_error_set(err, KT_ERR_INVALID,
				    "sealed secret has a bad nonce");
	dot2++;
	if ((r = kt_b64url_decode(ct, sizeof(ct), &ctlen, dot2,
				  slen - (size_t)(dot2 - sealed))) != KT_OK ||
	    ctlen <= SEAL_TAG_LEN) {
		OPENSSL_cleanse(ct, sizeof(ct));
		return kt_error_set(err, KT_ERR_INVALID,
				    "sealed secret has a bad ciphertext");
	}
	ptlen = ctlen - SEAL_TAG_LEN;

	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &n, (const uint8_t *)person_id,
			      (int)plen) != 1 ||
	    EVP_DecryptUpdate(ctx, pt, &n, ct, (int)ptlen) != 1 ||
	    (size_t)n != ptlen ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN,
				ct + ptlen) != 1) {
		kt_error_set(err, KT_ERR_CRYPTO, "AES-256-GCM failed");
		goto cleanup;
	}
	/* Plaintext stays in pt until the tag has been checked. */
	if (EVP_DecryptFinal_ex(ctx, pt + ptlen, &n) != 1) {
		ret = kt_error_set(err, KT_ERR_DENIED,
				   "sealed secret does not authenticate");
		goto cleanup;
	}
	if (ptlen > outcap) {
		ret = kt_error_set(err, KT_ERR_LIMIT,
				   "secret does not fit in %zu bytes", outcap);
		goto cleanup;
	}
	memcpy(out, pt, ptlen);
	*outlen = ptlen;
	ret = KT_OK;
cleanup:
	EVP_CIPHER_CTX_free(ctx);
	OPENSSL_cleanse(pt, sizeof(pt));
	OPENSSL_cleanse(ct, sizeof(ct));
	return ret;
}
