/*
 * Password hashing: scrypt in PHC string format, verification through a
 * table of schemes.
 *
 * Each scheme is one scheme_verify_fn and one row in `schemes`; the
 * dispatch in kt_password_verify() and every caller stay as they are. Only
 * the row marked `current` is what kt_password_hash() produces; a match on
 * any other row asks the caller to rehash. The legacy rows verify hashes
 * imported from the old systems (docs/passwords.md, "Legacy formats"):
 * bcrypt and sha512-crypt through libxcrypt's crypt_rn(), PBKDF2-SHA256
 * through OpenSSL's EVP_KDF, salted SHA-1 through EVP_Digest.
 */

#include <crypt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
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

/* What scan_decimal() found. */
enum { DEC_OK = 0, DEC_MALFORMED = -1, DEC_RANGE = -2 };

/*
 * Scan a decimal at s: digits without sign or leading zero (as PHC and the
 * crypt formats write them), followed by one of the characters in `ends`.
 * DEC_RANGE for a value above max, found without overflow however many
 * digits follow. On DEC_OK, *val is the value and *len the digit count.
 */
static int scan_decimal(const char *s, const char *ends, uint64_t max,
			uint64_t *val, size_t *len)
{
	size_t n = strspn(s, "0123456789");
	uint64_t v = 0, d;

	if (n == 0 || (s[0] == '0' && n > 1) || s[n] == '\0' ||
	    strchr(ends, s[n]) == NULL)
		return DEC_MALFORMED;
	for (size_t i = 0; i < n; i++) {
		d = (uint64_t)(s[i] - '0');
		if (d > max || v > (max - d) / 10)
			return DEC_RANGE;
		v = v * 10 + d;
	}
	*val = v;
	*len = n;
	return DEC_OK;
}

/*
 * Parse "<name>=<decimal>" followed by `end` at *sp and advance past `end`.
 * Decimal without sign or leading zero, as PHC asks.
 */
static int parse_param(const char **sp, const char *name, char end,
		       unsigned *out, struct kt_error *err)
{
	const char *s = *sp, *v;
	const char ends[2] = {end, '\0'};
	size_t namelen = strlen(name), len = 0;
	uint64_t val = 0;

	if (strncmp(s, name, namelen) != 0 || s[namelen] != '=')
		return kt_error_set(err, KT_ERR_INVALID,
				    "scrypt hash: expected parameter %s "
				    "(ln=<n>,r=<n>,p=<n>)",
				    name);
	v = s + namelen + 1;
	/* Any bound is far below 10^7; the exact check comes later. */
	switch (scan_decimal(v, ends, 9999999, &val, &len)) {
	case DEC_MALFORMED:
		return kt_error_set(err, KT_ERR_INVALID,
				    "scrypt hash: bad value for parameter %s",
				    name);
	case DEC_RANGE:
		return kt_error_set(err, KT_ERR_INVALID, "%s",
				    scrypt_range_msg);
	}
	*out = (unsigned)val;
	*sp = v + len + 1;
	return KT_OK;
}

/*
 * Decode one unpadded standard-base64 field of length len; `scheme` starts
 * the error messages ("scrypt hash").
 */
static int decode_field(const char *scheme, const char *what, const char *s,
			size_t len, uint8_t *out, size_t min, size_t max,
			size_t *outlen, struct kt_error *err)
{
	int r;

	if (len == 0)
		return kt_error_set(err, KT_ERR_INVALID, "%s: empty %s", scheme,
				    what);
	/* The shared decoder tolerates '=' padding; PHC forbids it. */
	if (memchr(s, '=', len) != NULL ||
	    (r = kt_b64_decode(out, max, outlen, s, len)) == KT_ERR_INVALID)
		return kt_error_set(err, KT_ERR_INVALID,
				    "%s: %s is not unpadded base64", scheme,
				    what);
	if (r != KT_OK || *outlen < min)
		return kt_error_set(err, KT_ERR_INVALID,
				    "%s: %s must be %zu to %zu bytes", scheme,
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
	if ((r = decode_field("scrypt hash", "salt", salt64,
			      (size_t)(hash64 - 1 - salt64), salt,
			      SCRYPT_SALT_MIN, SCRYPT_SALT_MAX, &saltlen,
			      err)) != KT_OK ||
	    (r = decode_field("scrypt hash", "hash", hash64, strlen(hash64),
			      hash, SCRYPT_HASH_MIN, SCRYPT_HASH_MAX, &hashlen,
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

/* ---- legacy schemes: verify only, always rehash ------------------------ */

static const char *mismatch_msg = "password mismatch";

/* The two 64-character alphabets of the crypt formats, in value order. */
static const char crypt64[] =
    "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
static const char bcrypt64[] =
    "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/* Value of c in a 64-character alphabet, or -1 (also for NUL). */
static int alpha_value(const char *alphabet, char c)
{
	const char *p = c != '\0' ? strchr(alphabet, c) : NULL;

	return p != NULL ? (int)(p - alphabet) : -1;
}

/* 1 if all n bytes at s are characters of set. */
static int all_in(const char *s, size_t n, const char *set)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\0' || strchr(set, s[i]) == NULL)
			return 0;
	return 1;
}

/* Decode n lowercase hex digits (n even); 0, or -1 for anything else. */
static int lower_hex_decode(const char *s, size_t n, uint8_t *out)
{
	if (n % 2 != 0 || !all_in(s, n, "0123456789abcdef"))
		return -1;
	for (size_t i = 0; i < n; i += 2)
		out[i / 2] = (uint8_t)(kt_hex_value((unsigned char)s[i]) << 4 |
				       kt_hex_value((unsigned char)s[i + 1]));
	return 0;
}

/*
 * Run libxcrypt on (key, stored) and compare its whole output with the
 * whole stored string in constant time: what the original systems did
 * (OpenBSD bcrypt_checkpass, PHP password_verify, glibc-based PAM), so a
 * stored string they would have refused is refused here too.
 *
 * struct crypt_data is 32 KiB (libxcrypt 4.4): on the heap, not on a pool
 * thread's stack; one per call keeps crypt_rn() thread-safe. It holds a
 * copy of the password and the intermediate state, so it is wiped.
 */
static int crypt_check(const char *scheme, const char *key, const char *stored,
		       struct kt_error *err)
{
	struct crypt_data *cd = NULL;
	const char *out;
	int r;

	if ((cd = calloc(1, sizeof(*cd))) == NULL)
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	/* NULL on failure; never the "*0" token crypt() would return. */
	if ((out = crypt_rn(key, stored, cd, (int)sizeof(*cd))) == NULL) {
		r = kt_error_set(err, KT_ERR_CRYPTO,
				 "%s: libcrypt could not compute the hash",
				 scheme);
		goto cleanup;
	}
	if (!kt_ct_equal(out, strlen(out), stored, strlen(stored))) {
		r = kt_error_set(err, KT_ERR_DENIED, "%s", mismatch_msg);
		goto cleanup;
	}
	r = KT_OK;
cleanup:
	OPENSSL_cleanse(cd, sizeof(*cd));
	free(cd);
	return r;
}

/*
 * bcrypt, "$2a$", "$2b$" and "$2y$" (libxcrypt's crypt_blowfish):
 *
 *     $2b$<cost: 2 digits>$<salt: 22><hash: 31>      60 characters
 *
 * in bcrypt's base64 alphabet. $2b$ and $2y$ are the corrected algorithm
 * (OpenBSD 2014, crypt_blowfish 1.1); $2a$ is verified as crypt_blowfish
 * does, which equals OpenBSD's $2a$ except for a few passwords with bytes
 * >= 0x80 (docs/passwords.md). $2x$, the emulation of the pre-2011
 * sign-extension bug, is not accepted.
 */
#define BCRYPT_LEN 60
#define BCRYPT_COST_MIN 4 /* the algorithm's minimum */
/*
 * 2^14 rounds take about a second on one core: above that a stored hash
 * ties up a pool worker for seconds per attempt. Real systems wrote 10-12.
 */
#define BCRYPT_COST_MAX 14
/* Blowfish's key schedule reads 72 bytes; the rest never mattered. */
#define BCRYPT_KEY_MAX 72

static int bcrypt_verify(const char *pw, size_t pwlen, const char *phc,
			 const struct kt_password_params *current,
			 int *needs_rehash, struct kt_error *err)
{
	const char *c = phc + 4, *sh = phc + 7; /* cost, salt and hash */
	char key[BCRYPT_KEY_MAX + 1];
	size_t keylen = pwlen < BCRYPT_KEY_MAX ? pwlen : BCRYPT_KEY_MAX;
	unsigned cost;
	int r;

	if (c[0] < '0' || c[0] > '9' || c[1] < '0' || c[1] > '9' || c[2] != '$')
		return kt_error_set(err, KT_ERR_INVALID,
				    "bcrypt hash: expected a two-digit cost "
				    "and '$' after \"%.4s\"",
				    phc);
	cost = (unsigned)(c[0] - '0') * 10 + (unsigned)(c[1] - '0');
	if (cost < BCRYPT_COST_MIN || cost > BCRYPT_COST_MAX)
		return kt_error_set(err, KT_ERR_INVALID,
				    "bcrypt cost out of range (%d to %d)",
				    BCRYPT_COST_MIN, BCRYPT_COST_MAX);
	if (strlen(phc) != BCRYPT_LEN)
		return kt_error_set(err, KT_ERR_INVALID,
				    "bcrypt hash: salt and hash must be 53 "
				    "characters");
	if (!all_in(sh, BCRYPT_LEN - 7, bcrypt64))
		return kt_error_set(err, KT_ERR_INVALID,
				    "bcrypt hash: salt and hash are not "
				    "bcrypt base64 [./A-Za-z0-9]");
	/*
	 * 16 salt bytes leave 4 unused bits in the 22nd character, 23 hash
	 * bytes 2 in the 31st. crypt_rn() writes them as zero, so a stored
	 * string with other bits could never match: say so, not "mismatch".
	 */
	if ((alpha_value(bcrypt64, sh[21]) & 0x0f) != 0)
		return kt_error_set(err, KT_ERR_INVALID,
				    "bcrypt hash: salt has non-zero unused "
				    "bits");
	if ((alpha_value(bcrypt64, sh[52]) & 0x03) != 0)
		return kt_error_set(err, KT_ERR_INVALID,
				    "bcrypt hash: hash has non-zero unused "
				    "bits");

	/*
	 * Pass at most the 72 bytes bcrypt reads: same result as the whole
	 * password (the original systems ignored the rest too), and longer
	 * passwords stay below libxcrypt's 512-byte limit.
	 */
	memcpy(key, pw, keylen);
	key[keylen] = '\0';
	r = crypt_check("bcrypt", key, phc, err);
	OPENSSL_cleanse(key, sizeof(key));
	if (r == KT_OK)
		*needs_rehash = 1;
	return r;
}

/*
 * sha512-crypt (Drepper, "Unix crypt using SHA-256 and SHA-512"):
 *
 *     $6$[rounds=<n>$]<salt: 1-16>$<hash: 86>
 *
 * salt and hash in the crypt alphabet [./0-9A-Za-z]. Without rounds= the
 * count is 5000. crypt() never writes a count below 1000 (it clamps and
 * writes the clamped value) nor a salt above 16 characters (it cuts), so
 * such strings are malformed, not something to reinterpret.
 */
#define SHA512C_PREFIX "$6$"
#define SHA512C_ROUNDS_MIN 1000
/* 10^6 rounds take 0.5-0.7 s; glibc's default is 5000. */
#define SHA512C_ROUNDS_MAX 1000000
#define SHA512C_SALT_MAX 16
#define SHA512C_HASH_LEN 86

static int sha512crypt_verify(const char *pw, size_t pwlen, const char *phc,
			      const struct kt_password_params *current,
			      int *needs_rehash, struct kt_error *err)
{
	const char *s = phc + strlen(SHA512C_PREFIX), *hash;
	size_t saltlen, len = 0;
	uint64_t rounds = 0;
	int r;

	if (strncmp(s, "rounds=", 7) == 0) {
		switch (scan_decimal(s + 7, "$", SHA512C_ROUNDS_MAX, &rounds,
				     &len)) {
		case DEC_MALFORMED:
			return kt_error_set(err, KT_ERR_INVALID,
					    "sha512-crypt hash: bad value for "
					    "rounds");
		case DEC_RANGE:
			rounds = 0;
			break;
		}
		if (rounds < SHA512C_ROUNDS_MIN)
			return kt_error_set(
			    err, KT_ERR_INVALID,
			    "sha512-crypt rounds out of range (%d to %d)",
			    SHA512C_ROUNDS_MIN, SHA512C_ROUNDS_MAX);
		s += 7 + len + 1;
	}
	saltlen = strcspn(s, "$");
	if (s[saltlen] != '$')
		return kt_error_set(err, KT_ERR_INVALID,
				    "sha512-crypt hash: missing hash after "
				    "salt");
	if (saltlen == 0 || saltlen > SHA512C_SALT_MAX ||
	    !all_in(s, saltlen, crypt64))
		return kt_error_set(err, KT_ERR_INVALID,
				    "sha512-crypt hash: salt must be 1 to %d "
				    "characters of [./0-9A-Za-z]",
				    SHA512C_SALT_MAX);
	hash = s + saltlen + 1;
	if (strlen(hash) != SHA512C_HASH_LEN ||
	    !all_in(hash, SHA512C_HASH_LEN, crypt64))
		return kt_error_set(err, KT_ERR_INVALID,
				    "sha512-crypt hash: hash must be %d "
				    "characters of [./0-9A-Za-z]",
				    SHA512C_HASH_LEN);
	/* 64 bytes in 86 characters: the last one carries 2 bits. */
	if (alpha_value(crypt64, hash[SHA512C_HASH_LEN - 1]) > 3)
		return kt_error_set(err, KT_ERR_INVALID,
				    "sha512-crypt hash: hash has non-zero "
				    "unused bits");
	/*
	 * libxcrypt refuses passwords of 512 bytes and more (glibc did not).
	 * Unlike bcrypt, every byte counts, so they cannot be cut: such a
	 * user has to reset the password.
	 */
	if (pwlen >= CRYPT_MAX_PASSPHRASE_SIZE)
		return kt_error_set(err, KT_ERR_LIMIT,
				    "sha512-crypt: password longer than %d "
				    "bytes",
				    CRYPT_MAX_PASSPHRASE_SIZE - 1);
	if ((r = crypt_check("sha512-crypt", pw, phc, err)) == KT_OK)
		*needs_rehash = 1;
	return r;
}

/*
 * PBKDF2-HMAC-SHA256 in two encodings:
 *
 *     $pbkdf2-sha256$i=<iterations>[,l=<hash bytes>]$<salt>$<hash>
 *         PHC string format as the RustCrypto pbkdf2 crate writes it:
 *         salt and hash unpadded standard base64 of the raw bytes.
 *     pbkdf2_sha256$<iterations>$<salt>$<hash>
 *         Django's PBKDF2PasswordHasher: the salt is used as the ASCII
 *         string it is, the hash is padded standard base64 of 32 bytes.
 */
#define PBKDF2_PHC_PREFIX "$pbkdf2-sha256$"
#define PBKDF2_DJANGO_PREFIX "pbkdf2_sha256$"
#define PBKDF2_ITER_MIN 1000
/* 2-3 s at 10^7; Django 5 writes 720000, OWASP asks 600000. */
#define PBKDF2_ITER_MAX 10000000
#define PBKDF2_SALT_MIN 4
#define PBKDF2_SALT_MAX 64
#define PBKDF2_HASH_MIN 16
#define PBKDF2_HASH_MAX 64
#define PBKDF2_DJANGO_HASH_LEN 32

static const char *pbkdf2_range_msg =
    "pbkdf2 iterations out of range (1000 to 10000000)";

static int pbkdf2_sha256_derive(const char *pw, size_t pwlen,
				const uint8_t *salt, size_t saltlen,
				unsigned iter, uint8_t *out, size_t outlen,
				struct kt_error *err)
{
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *ctx = NULL;
	OSSL_PARAM params[6], *q = params;
	/*
	 * pkcs5=1 turns off the SP 800-132 minimums (16-byte salt): Django's
	 * 12-character salts are below them. It is the default provider's
	 * default; say it so that a FIPS configuration does not refuse.
	 */
	int pkcs5 = 1;
	int ret = KT_ERR_CRYPTO;

	if ((kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_PBKDF2, NULL)) == NULL ||
	    (ctx = EVP_KDF_CTX_new(kdf)) == NULL) {
		kt_error_set(err, KT_ERR_CRYPTO, "PBKDF2 is not available");
		goto cleanup;
	}
	*q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						(char *)"SHA256", 0);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
						 (void *)pw, pwlen);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
						 (void *)salt, saltlen);
	*q++ = OSSL_PARAM_construct_uint(OSSL_KDF_PARAM_ITER, &iter);
	*q++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_PKCS5, &pkcs5);
	*q = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(ctx, out, outlen, params) != 1) {
		kt_error_set(err, KT_ERR_CRYPTO, "PBKDF2 derivation failed");
		goto cleanup;
	}
	ret = KT_OK;
cleanup:
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return ret;
}

/* Derive and compare in constant time; the tail of both verifiers. */
static int pbkdf2_sha256_check(const char *pw, size_t pwlen,
			       const uint8_t *salt, size_t saltlen,
			       unsigned iter, const uint8_t *hash,
			       size_t hashlen, int *needs_rehash,
			       struct kt_error *err)
{
	uint8_t derived[PBKDF2_HASH_MAX];
	int r;

	if ((r = pbkdf2_sha256_derive(pw, pwlen, salt, saltlen, iter, derived,
				      hashlen, err)) != KT_OK)
		goto cleanup;
	if (!kt_ct_equal(derived, hashlen, hash, hashlen)) {
		r = kt_error_set(err, KT_ERR_DENIED, "%s", mismatch_msg);
		goto cleanup;
	}
	*needs_rehash = 1;
	r = KT_OK;
cleanup:
	OPENSSL_cleanse(derived, sizeof(derived));
	return r;
}

static int pbkdf2_phc_verify(const char *pw, size_t pwlen, const char *phc,
			     const struct kt_password_params *current,
			     int *needs_rehash, struct kt_error *err)
{
	static const char *scheme = "pbkdf2-sha256 hash";
	const char *s = phc + strlen(PBKDF2_PHC_PREFIX), *salt64, *hash64;
	uint8_t salt[PBKDF2_SALT_MAX], hash[PBKDF2_HASH_MAX];
	uint64_t iter = 0, l = 0;
	size_t len = 0, saltlen, hashlen;
	int r, have_l = 0;

	if (strncmp(s, "i=", 2) != 0)
		return kt_error_set(err, KT_ERR_INVALID,
				    "%s: expected parameter i "
				    "(i=<n>[,l=<n>])",
				    scheme);
	switch (scan_decimal(s + 2, ",$", PBKDF2_ITER_MAX, &iter, &len)) {
	case DEC_MALFORMED:
		return kt_error_set(err, KT_ERR_INVALID,
				    "%s: bad value for parameter i", scheme);
	case DEC_RANGE:
		iter = 0;
		break;
	}
	if (iter < PBKDF2_ITER_MIN)
		return kt_error_set(err, KT_ERR_INVALID, "%s",
				    pbkdf2_range_msg);
	s += 2 + len;
	if (*s++ == ',') {
		if (strncmp(s, "l=", 2) != 0)
			return kt_error_set(err, KT_ERR_INVALID,
					    "%s: expected parameter l "
					    "(i=<n>[,l=<n>])",
					    scheme);
		if (scan_decimal(s + 2, "$", 999, &l, &len) != DEC_OK)
			return kt_error_set(err, KT_ERR_INVALID,
					    "%s: bad value for parameter l",
					    scheme);
		s += 2 + len + 1;
		have_l = 1;
	}
	salt64 = s;
	if ((hash64 = strchr(salt64, '$')) == NULL)
		return kt_error_set(err, KT_ERR_INVALID,
				    "%s: missing hash after salt", scheme);
	hash64++;
	if (strchr(hash64, '$') != NULL)
		return kt_error_set(err, KT_ERR_INVALID,
				    "%s: unexpected field after hash", scheme);
	if ((r = decode_field(
		 scheme, "salt", salt64, (size_t)(hash64 - 1 - salt64), salt,
		 PBKDF2_SALT_MIN, PBKDF2_SALT_MAX, &saltlen, err)) != KT_OK ||
	    (r = decode_field(scheme, "hash", hash64, strlen(hash64), hash,
			      PBKDF2_HASH_MIN, PBKDF2_HASH_MAX, &hashlen,
			      err)) != KT_OK)
		return r;
	if (have_l && l != hashlen)
		return kt_error_set(err, KT_ERR_INVALID,
				    "%s: parameter l does not match the hash "
				    "length",
				    scheme);
	return pbkdf2_sha256_check(pw, pwlen, salt, saltlen, (unsigned)iter,
				   hash, hashlen, needs_rehash, err);
}

static int pbkdf2_django_verify(const char *pw, size_t pwlen, const char *phc,
				const struct kt_password_params *current,
				int *needs_rehash, struct kt_error *err)
{
	static const char *scheme = "Django pbkdf2_sha256 hash";
	/* Printable ASCII but space and '$', Django's only restriction. */
	static const char salt_chars[] =
	    "!\"#%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~";
	const char *s = phc + strlen(PBKDF2_DJANGO_PREFIX), *salt, *hash64;
	uint8_t hash[PBKDF2_DJANGO_HASH_LEN + 2];
	uint64_t iter = 0;
	size_t len = 0, saltlen, hashlen;

	switch (scan_decimal(s, "$", PBKDF2_ITER_MAX, &iter, &len)) {
	case DEC_MALFORMED:
		return kt_error_set(err, KT_ERR_INVALID,
				    "%s: bad iteration count", scheme);
	case DEC_RANGE:
		iter = 0;
		break;
	}
	if (iter < PBKDF2_ITER_MIN)
		return kt_error_set(err, KT_ERR_INVALID, "%s",
				    pbkdf2_range_msg);
	salt = s + len + 1;
	saltlen = strcspn(salt, "$");
	if (salt[saltlen] != '$')
		return kt_error_set(err, KT_ERR_INVALID,
				    "%s: missing hash after salt", scheme);
	if (saltlen == 0 || saltlen > PBKDF2_SALT_MAX ||
	    !all_in(salt, saltlen, salt_chars))
		return kt_error_set(err, KT_ERR_INVALID,
				    "%s: salt must be 1 to %d printable ASCII "
				    "characters",
				    scheme, PBKDF2_SALT_MAX);
	hash64 = salt + saltlen + 1;
	/* 32 bytes: 43 characters and one '=', as base64.b64encode writes. */
	if (strlen(hash64) != 44 || hash64[43] != '=' ||
	    memchr(hash64, '=', 43) != NULL ||
	    kt_b64_decode(hash, sizeof(hash), &hashlen, hash64, 43) != KT_OK ||
	    hashlen != PBKDF2_DJANGO_HASH_LEN)
		return kt_error_set(err, KT_ERR_INVALID,
				    "%s: hash must be 32 bytes in padded "
				    "base64",
				    scheme);
	return pbkdf2_sha256_check(pw, pwlen, (const uint8_t *)salt, saltlen,
				   (unsigned)iter, hash, hashlen, needs_rehash,
				   err);
}

/*
 * Salted SHA-1, the encoding kontor-migrate writes for it:
 *
 *     {SSHA1-HEX}<salt>$<SHA-1(salt || password)>
 *
 * both in lowercase hex, the salt 1 to 64 bytes, the salt bytes hashed
 * before the password bytes. (LDAP's {SSHA} hashes password || salt: it
 * cannot be rewritten into this form.) SHA-1 costs nothing to brute-force,
 * so this row exists only to move those users to scrypt on their next
 * login.
 */
#define SSHA1_PREFIX "{SSHA1-HEX}"
#define SSHA1_SALT_MAX 64

static int ssha1_verify(const char *pw, size_t pwlen, const char *phc,
			const struct kt_password_params *current,
			int *needs_rehash, struct kt_error *err)
{
	const char *s = phc + strlen(SSHA1_PREFIX), *hex;
	uint8_t salt[SSHA1_SALT_MAX], hash[20], derived[EVP_MAX_MD_SIZE];
	size_t saltlen;
	unsigned dlen = 0;
	EVP_MD_CTX *md = NULL;
	int r;

	saltlen = strcspn(s, "$");
	if (s[saltlen] != '$')
		return kt_error_set(err, KT_ERR_INVALID,
				    "SSHA1-HEX hash: missing '$' between salt "
				    "and hash");
	if (saltlen == 0 || saltlen > 2 * SSHA1_SALT_MAX ||
	    lower_hex_decode(s, saltlen, salt) != 0)
		return kt_error_set(err, KT_ERR_INVALID,
				    "SSHA1-HEX hash: salt must be 1 to %d "
				    "bytes in lowercase hex",
				    SSHA1_SALT_MAX);
	saltlen /= 2;
	hex = s + 2 * saltlen + 1;
	if (strlen(hex) != 40 || lower_hex_decode(hex, 40, hash) != 0)
		return kt_error_set(err, KT_ERR_INVALID,
				    "SSHA1-HEX hash: hash must be 40 lowercase "
				    "hex digits");

	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha1(), NULL) != 1 ||
	    EVP_DigestUpdate(md, salt, saltlen) != 1 ||
	    EVP_DigestUpdate(md, pw, pwlen) != 1 ||
	    EVP_DigestFinal_ex(md, derived, &dlen) != 1 || dlen != 20) {
		r = kt_error_set(err, KT_ERR_CRYPTO, "SHA-1 is not available");
		goto cleanup;
	}
	if (!kt_ct_equal(derived, dlen, hash, sizeof(hash))) {
		r = kt_error_set(err, KT_ERR_DENIED, "%s", mismatch_msg);
		goto cleanup;
	}
	*needs_rehash = 1;
	r = KT_OK;
cleanup:
	EVP_MD_CTX_free(md);
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
    {"$2a$", bcrypt_verify, 0},
    {"$2b$", bcrypt_verify, 0},
    {"$2y$", bcrypt_verify, 0},
    {SHA512C_PREFIX, sha512crypt_verify, 0},
    {PBKDF2_PHC_PREFIX, pbkdf2_phc_verify, 0},
    {PBKDF2_DJANGO_PREFIX, pbkdf2_django_verify, 0},
    {SSHA1_PREFIX, ssha1_verify, 0},
};

int kt_password_is_current(const char *phc)
{
	return phc != NULL &&
	       strncmp(phc, SCRYPT_PREFIX, strlen(SCRYPT_PREFIX)) == 0;
}

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
