/*
 * Password hashing: scrypt in PHC string format, verification through a
 * table of schemes.
 *
 * Adding a legacy scheme (bcrypt "$2a$"/"$2b$"/"$2y$", sha512-crypt "$6$"
 * through libcrypt, PBKDF2-SHA256, salted SHA-1) means writing one
 * scheme_verify_fn and adding a row to `schemes`; the dispatch in
 * kt_password_verify() and every caller stay as they are. Only the row
 * marked `current` is what kt_password_hash() produces; a match on any other
 * row asks the caller to rehash.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "kontor/err.h"
#include "kontor/password.h"
#include "kontor/util.h"

const struct kt_password_params kt_password_params_default = {
    .log_n = KT_PASSWORD_LOG_N_DEFAULT,
    .r = KT_PASSWORD_R_DEFAULT,
    .p = KT_PASSWORD_P_DEFAULT,
};

/* What kt_password_hash() writes. */
#define SCRYPT_SALT_LEN 16
#define SCRYPT_HASH_LEN 32

/*
 * What verify accepts from a stored string. Salts and hashes shorter than
 * ours are still verified (then rehashed); the lower bounds only keep out
 * nonsense. The salt minimum of 4 bytes admits the RFC 7914 test vector.
 */
#define SCRYPT_SALT_MIN 4
#define SCRYPT_SALT_MAX 64
#define SCRYPT_HASH_MIN 16
#define SCRYPT_HASH_MAX 64

/*
 * Parameter bounds, for stored strings and for configuration alike.
 * Memory (128 * r * N) is capped at 128 MiB, the OWASP N=2^17, r=8
 * setting, so that legacy hashes at that cost still verify; CPU work
 * (N * r * p) at 8 times that setting's 2^20. Anything above is a corrupted
 * or hostile record, not a hash we would have written.
 */
#define SCRYPT_LOG_N_MAX 20
#define SCRYPT_R_MAX 32
#define SCRYPT_P_MAX 64
#define SCRYPT_MEM_MAX ((uint64_t)128 << 20)
#define SCRYPT_WORK_MAX ((uint64_t)1 << 23)

#define SCRYPT_PREFIX "$scrypt$"

static const char *scrypt_range_msg = "scrypt parameters out of range";

static int scrypt_params_ok(const struct kt_password_params *pp)
{
	uint64_t n;

	if (pp->log_n < 1 || pp->log_n > SCRYPT_LOG_N_MAX || pp->r < 1 ||
	    pp->r > SCRYPT_R_MAX || pp->p < 1 || pp->p > SCRYPT_P_MAX)
		return 0;
	n = (uint64_t)1 << pp->log_n;
	return 128 * (uint64_t)pp->r * n <= SCRYPT_MEM_MAX &&
	       n * pp->r * pp->p <= SCRYPT_WORK_MAX;
}

/* Derive outlen bytes; parameters must have passed scrypt_params_ok(). */
static int scrypt_derive(const char *pw, size_t pwlen, const uint8_t *salt,
			 size_t saltlen, const struct kt_password_params *pp,
			 uint8_t *out, size_t outlen, struct kt_error *err)
{
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *ctx = NULL;
	OSSL_PARAM params[7], *q = params;
	uint64_t n = (uint64_t)1 << pp->log_n;
	uint32_t r = pp->r, p = pp->p;
	/* OpenSSL needs 128 * r * (N + 2) for V plus 128 * r * p for B. */
	uint64_t maxmem = 128 * (uint64_t)r * (n + 2 + p);
	int ret = KT_ERR_CRYPTO;

	if ((kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_SCRYPT, NULL)) == NULL ||
	    (ctx = EVP_KDF_CTX_new(kdf)) == NULL) {
		kt_error_set(err, KT_ERR_CRYPTO, "scrypt is not available");
		goto cleanup;
	}
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
						 (void *)pw, pwlen);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
						 (void *)salt, saltlen);
	*q++ = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
	*q++ = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r);
	*q++ = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p);
	*q++ =
	    OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem);
	*q = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(ctx, out, outlen, params) != 1) {
		kt_error_set(err, KT_ERR_CRYPTO, "scrypt derivation failed");
		goto cleanup;
	}
	ret = KT_OK;
cleanup:
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return ret;
}

/* Write the PHC string; returns 0 or -1 when buf is too small. */
static int scrypt_format(char *buf, size_t cap,
			 const struct kt_password_params *pp,
			 const char *salt64, const char *hash64)
{
	int n = snprintf(buf, cap, SCRYPT_PREFIX "ln=%u,r=%u,p=%u$%s$%s",
			 pp->log_n, pp->r, pp->p, salt64, hash64);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int kt_password_hash(const char *pw, const struct kt_password_params *params,
		     char **phc_out, struct kt_error *err)
{
	uint8_t salt[SCRYPT_SALT_LEN], hash[SCRYPT_HASH_LEN];
	char salt64[SCRYPT_SALT_LEN * 4 / 3 + 4];
	char hash64[SCRYPT_HASH_LEN * 4 / 3 + 4];
	char buf[160];
	size_t pwlen;
	int r;

	if (phc_out != NULL)
		*phc_out = NULL;
	if (params == NULL)
		params = &kt_password_params_default;
	if (phc_out == NULL)
		return kt_error_set(err, KT_ERR_INVALID, "no output pointer");
	if (pw == NULL)
		return kt_error_set(err, KT_ERR_INVALID, "no password given");
	if ((pwlen = strlen(pw)) > KT_PASSWORD_MAX_LEN)
		return kt_error_set(err, KT_ERR_LIMIT,
				    "password longer than %d bytes",
				    KT_PASSWORD_MAX_LEN);
	if (!scrypt_params_ok(params))
		return kt_error_set(err, KT_ERR_INVALID, "%s",
				    scrypt_range_msg);
	if ((r = kt_random_bytes(salt, sizeof(salt))) != KT_OK)
		return kt_error_set(err, r, "no randomness for the salt");
	if ((r = scrypt_derive(pw, pwlen, salt, sizeof(salt), params, hash,
			       sizeof(hash), err)) != KT_OK)
		goto cleanup;
	kt_b64_encode(salt64, salt, sizeof(salt));
	kt_b64_encode(hash64, hash, sizeof(hash));
	if (scrypt_format(buf, sizeof(buf), params, salt64, hash64) != 0) {
		r = kt_error_set(err, KT_ERR_INTERNAL, "hash string too long");
		goto cleanup;
	}
	if ((*phc_out = strdup(buf)) == NULL) {
		r = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	r = KT_OK;
cleanup:
	OPENSSL_cleanse(hash, sizeof(hash));
	OPENSSL_cleanse(hash64, sizeof(hash64));
	OPENSSL_cleanse(buf, sizeof(buf));
	return r;
}

/*
 * Parse "<name>=<decimal>" followed by `end` at *sp and advance past `end`.
 * Decimal without sign or leading zero, as PHC asks.
 */
static int parse_param(const char **sp, const char *name, char end,
		       unsigned *out, struct kt_error *err)
{
	const char *s = *sp, *v;
	size_t namelen = strlen(name), len;
	char digits[8];
	uint64_t val;

	if (strncmp(s, name, namelen) != 0 || s[namelen] != '=')
		return kt_error_set(err, KT_ERR_INVALID,
				    "scrypt hash: expected parameter %s "
				    "(ln=<n>,r=<n>,p=<n>)",
				    name);
	v = s + namelen + 1;
	len = strspn(v, "0123456789");
	if (len == 0 || (v[0] == '0' && len > 1) || v[len] != end)
		return kt_error_set(err, KT_ERR_INVALID,
				    "scrypt hash: bad value for parameter %s",
				    name);
	/* Any bound is far below 10^7; the exact check comes later. */
	if (len >= sizeof(digits))
		return kt_error_set(err, KT_ERR_INVALID, "%s",
				    scrypt_range_msg);
	memcpy(digits, v, len);
	digits[len] = '\0';
	if (kt_parse_uint(digits, UINT32_MAX, &val) != KT_OK)
		return kt_error_set(err, KT_ERR_INTERNAL,
				    "scrypt hash: cannot parse %s", name);
	*out = (unsigned)val;
	*sp = v + len + 1;
	return KT_OK;
}

/* Decode one unpadded standard-base64 field of length len. */
static int decode_field(const char *what, const char *s, size_t len,
			uint8_t *out, size_t min, size_t max, size_t *outlen,
			struct kt_error *err)
{
	int r;

	if (len == 0)
		return kt_error_set(err, KT_ERR_INVALID,
				    "scrypt hash: empty %s", what);
	/* The shared decoder tolerates '=' padding; PHC forbids it. */
	if (memchr(s, '=', len) != NULL ||
	    (r = kt_b64_decode(out, max, outlen, s, len)) == KT_ERR_INVALID)
		return kt_error_set(err, KT_ERR_INVALID,
				    "scrypt hash: %s is not unpadded base64",
				    what);
	if (r != KT_OK || *outlen < min)
		return kt_error_set(err, KT_ERR_INVALID,
				    "scrypt hash: %s must be %zu to %zu bytes",
				    what, min, max);
	return KT_OK;
}

static int scrypt_verify(const char *pw, size_t pwlen, const char *phc,
			 const struct kt_password_params *current,
			 int *needs_rehash, struct kt_error *err)
{
	struct kt_password_params stored;
	uint8_t salt[SCRYPT_SALT_MAX], hash[SCRYPT_HASH_MAX];
	uint8_t derived[SCRYPT_HASH_MAX];
	size_t saltlen, hashlen;
	const char *s = phc + strlen(SCRYPT_PREFIX), *salt64, *hash64;
	int r;

	if ((r = parse_param(&s, "ln", ',', &stored.log_n, err)) != KT_OK ||
	    (r = parse_param(&s, "r", ',', &stored.r, err)) != KT_OK ||
	    (r = parse_param(&s, "p", '$', &stored.p, err)) != KT_OK)
		return r;
	if (!scrypt_params_ok(&stored))
		return kt_error_set(err, KT_ERR_INVALID, "%s",
				    scrypt_range_msg);
	salt64 = s;
	if ((hash64 = strchr(salt64, '$')) == NULL)
		return kt_error_set(err, KT_ERR_INVALID,
				    "scrypt hash: missing hash after salt");
	hash64++;
	if (strchr(hash64, '$') != NULL)
		return kt_error_set(err, KT_ERR_INVALID,
				    "scrypt hash: unexpected field after hash");
	if ((r = decode_field("salt", salt64, (size_t)(hash64 - 1 - salt64),
			      salt, SCRYPT_SALT_MIN, SCRYPT_SALT_MAX, &saltlen,
			      err)) != KT_OK ||
	    (r = decode_field("hash", hash64, strlen(hash64), hash,
			      SCRYPT_HASH_MIN, SCRYPT_HASH_MAX, &hashlen,
			      err)) != KT_OK)
		return r;

	if ((r = scrypt_derive(pw, pwlen, salt, saltlen, &stored, derived,
			       hashlen, err)) != KT_OK)
		goto cleanup;
	if (!kt_ct_equal(derived, hashlen, hash, hashlen)) {
		r = kt_error_set(err, KT_ERR_DENIED, "password mismatch");
		goto cleanup;
	}
	*needs_rehash = stored.log_n < current->log_n ||
			stored.r < current->r || stored.p < current->p ||
			saltlen < SCRYPT_SALT_LEN || hashlen < SCRYPT_HASH_LEN;
	r = KT_OK;
cleanup:
	OPENSSL_cleanse(derived, sizeof(derived));
	return r;
}

/*
 * Verify pw (pwlen bytes) against the whole stored string phc. Set
 * *needs_rehash only on a match; it is 0 on entry.
 */
typedef int (*scheme_verify_fn)(const char *pw, size_t pwlen, const char *phc,
				const struct kt_password_params *current,
				int *needs_rehash, struct kt_error *err);

static const struct scheme {
	const char *prefix; /* matched against the start of the string */
	scheme_verify_fn verify;
	int current; /* what kt_password_hash() writes */
} schemes[] = {
    {SCRYPT_PREFIX, scrypt_verify, 1},
};

int kt_password_verify(const char *pw, const char *phc,
		       const struct kt_password_params *current,
		       int *needs_rehash, struct kt_error *err)
{
	const struct scheme *sc = NULL;
	size_t pwlen, idlen;
	int rehash = 0, r;

	if (needs_rehash != NULL)
		*needs_rehash = 0;
	if (current == NULL)
		current = &kt_password_params_default;
	if (pw == NULL)
		return kt_error_set(err, KT_ERR_INVALID, "no password given");
	if ((pwlen = strlen(pw)) > KT_PASSWORD_MAX_LEN)
		return kt_error_set(err, KT_ERR_LIMIT,
				    "password longer than %d bytes",
				    KT_PASSWORD_MAX_LEN);
	if (phc == NULL || *phc == '\0')
		return kt_error_set(err, KT_ERR_INVALID,
				    "empty password hash string");
	if (strnlen(phc, KT_PASSWORD_PHC_MAX + 1) > KT_PASSWORD_PHC_MAX)
		return kt_error_set(err, KT_ERR_INVALID,
				    "password hash string longer than %d bytes",
				    KT_PASSWORD_PHC_MAX);

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		if (strncmp(phc, schemes[i].prefix,
			    strlen(schemes[i].prefix)) == 0) {
			sc = &schemes[i];
			break;
		}
	}
	if (sc == NULL) {
		/* Name a "$id$" for the operator; never echo the rest. */
		idlen = phc[0] == '$'
			    ? strspn(phc + 1, "abcdefghijklmnopqrstuvwxyz"
					      "0123456789-")
			    : 0;
		if (idlen > 0 && idlen <= 32 && phc[idlen + 1] == '$')
			return kt_error_set(err, KT_ERR_UNSUPPORTED,
					    "unsupported password hash "
					    "scheme \"%.*s\"",
					    (int)idlen, phc + 1);
		return kt_error_set(err, KT_ERR_UNSUPPORTED,
				    "unrecognised password hash format");
	}
	if ((r = sc->verify(pw, pwlen, phc, current, &rehash, err)) != KT_OK)
		return r;
	if (needs_rehash != NULL)
		*needs_rehash = rehash || !sc->current;
	return KT_OK;
}

void kt_password_dummy_verify(const char *pw,
			      const struct kt_password_params *params)
{
	/* 16 and 32 zero bytes, the lengths kt_password_hash() writes. */
	static const char salt64[] = "AAAAAAAAAAAAAAAAAAAAAA";
	static const char hash64[] =
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	char phc[160];

	if (params == NULL)
		params = &kt_password_params_default;
	/*
	 * Run the real verifier on a hash with the current parameters: same
	 * parsing, same KDF cost, same compare. No password matches, since
	 * scrypt output is not all zeros (with overwhelming probability).
	 */
	if (scrypt_format(phc, sizeof(phc), params, salt64, hash64) == 0)
		(void)kt_password_verify(pw, phc, params, NULL, NULL);
}

/* Unicode White_Space code points. */
static int is_space(uint32_t cp)
{
	return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0x85 ||
	       cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
	       cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f ||
	       cp == 0x3000;
}

/*
 * Decode one UTF-8 sequence at s (NUL-terminated). Returns its length, or
 * 0 for an invalid sequence: overlong forms, surrogates and code points
 * above U+10FFFF are invalid (RFC 3629).
 */
static size_t utf8_next(const unsigned char *s, uint32_t *cp)
{
	size_t len, i;
	uint32_t c = s[0], min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xe0) == 0xc0) {
		len = 2, c &= 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3, c &= 0x0f, min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		len = 4, c &= 0x07, min = 0x10000;
	} else {
		return 0;
	}
	for (i = 1; i < len; i++) {
		/* Also stops at the terminating NUL. */
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

int kt_password_policy_check(const char *pw, const char **reason)
{
	const unsigned char *s = (const unsigned char *)pw;
	size_t chars = 0, len;
	int only_space = 1;
	uint32_t cp;
	const char *why = NULL;

	if (pw == NULL) {
		why = "missing";
		goto done;
	}
	while (*s != '\0') {
		if ((len = utf8_next(s, &cp)) == 0) {
			why = "invalid_utf8";
			goto done;
		}
		/* Stop early: the length bounds the work. */
		if (++chars > KT_PASSWORD_POLICY_MAX_CHARS) {
			why = "too_long";
			goto done;
		}
		only_space = only_space && is_space(cp);
		s += len;
	}
	if (chars < KT_PASSWORD_POLICY_MIN_CHARS)
		why = "too_short";
	else if (only_space)
		why = "whitespace_only";
done:
	if (reason != NULL)
		*reason = why;
	return why == NULL ? KT_OK : KT_ERR_INVALID;
}

const char *kt_password_policy_describe(const char *reason)
{
	static const struct {
		const char *key, *text;
	} texts[] = {
	    {"missing", "Please enter a password."},
	    {"invalid_utf8", "The password contains invalid characters."},
	    {"too_short", "The password must have at least 12 characters."},
	    {"too_long", "The password must have at most 128 characters."},
	    {"whitespace_only",
	     "The password must not consist of spaces only."},
	};

	for (size_t i = 0;
	     reason != NULL && i < sizeof(texts) / sizeof(texts[0]); i++)
		if (strcmp(reason, texts[i].key) == 0)
			return texts[i].text;
	return "The password is not acceptable.";
}
