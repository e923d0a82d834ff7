#ifndef KONTOR_PASSWORD_H
#define KONTOR_PASSWORD_H

/*
 * Password hashing and verification.
 *
 * New hashes are scrypt (OpenSSL 3 EVP_KDF "SCRYPT") stored as a PHC string:
 *
 *     $scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>
 *
 * with a 16-byte random salt, a 32-byte hash, both standard base64 without
 * padding. Verification dispatches on the scheme prefix through a table in
 * password.c. Besides scrypt it accepts the legacy formats imported from
 * the old systems, verify only: bcrypt ($2a$, $2b$, $2y$), sha512-crypt
 * ($6$), PBKDF2-SHA256 ($pbkdf2-sha256$ and Django's pbkdf2_sha256$) and
 * salted SHA-1 ({SSHA1-HEX}). See docs/passwords.md for the encodings, the
 * parameter choice and timings.
 *
 * Hashing and verifying cost tens of milliseconds of CPU and 8 MiB of
 * memory at the defaults: call them from a kt_pool worker, never on an
 * event-loop thread. All functions are thread-safe.
 */

#include "kontor/err.h"

/* Longest password accepted by hash/verify, in bytes (KT_ERR_LIMIT). */
#define KT_PASSWORD_MAX_LEN 1024

/* Longest stored hash string accepted by verify, in bytes. */
#define KT_PASSWORD_PHC_MAX 256

/*
 * scrypt cost: N = 2^log_n, block size r, parallelisation p.
 *
 * Defaults N=2^13, r=8, p=10: the OWASP Password Storage Cheat Sheet lists
 * this as equivalent to its first choice N=2^17, r=8, p=1, trading memory
 * for CPU. OpenSSL computes the p lanes one after another, so one hash
 * needs 128 * r * N = 8 MiB instead of 128 MiB. kontor needs the small
 * footprint: several hashes run in parallel in a gateway that targets less
 * than 32 MiB RSS.
 */
struct kt_password_params {
	unsigned log_n;
	unsigned r;
	unsigned p;
};

#define KT_PASSWORD_LOG_N_DEFAULT 13
#define KT_PASSWORD_R_DEFAULT 8
#define KT_PASSWORD_P_DEFAULT 10

/* The defaults above; every params argument may also be NULL for them. */
extern const struct kt_password_params kt_password_params_default;

/*
 * Hash pw with fresh random salt. On success *phc_out is a PHC string the
 * caller frees with free(). Errors: KT_ERR_INVALID (NULL pw; parameters
 * outside the bounds verify accepts: "scrypt parameters out of range"),
 * KT_ERR_LIMIT (pw longer than KT_PASSWORD_MAX_LEN), KT_ERR_CRYPTO,
 * KT_ERR_NOMEM.
 */
int kt_password_hash(const char *pw, const struct kt_password_params *params,
		     char **phc_out, struct kt_error *err);

/*
 * Check pw against a stored hash string.
 *   KT_OK               match
 *   KT_ERR_DENIED       mismatch (hash compared in constant time)
 *   KT_ERR_INVALID      malformed hash string, err says what is wrong
 *   KT_ERR_UNSUPPORTED  unknown scheme
 *   KT_ERR_LIMIT        pw longer than KT_PASSWORD_MAX_LEN; for a
 *                       sha512-crypt hash, longer than 511 bytes
 *   KT_ERR_CRYPTO       the KDF failed (e.g. out of memory)
 *   KT_ERR_NOMEM        out of memory
 * Parameters read from the stored hash are bounded before any work is
 * done ("scrypt parameters out of range", "bcrypt cost out of range (4 to
 * 14)", "sha512-crypt rounds out of range (1000 to 1000000)", "pbkdf2
 * iterations out of range (1000 to 10000000)"): a corrupted or planted
 * record cannot make us allocate gigabytes or spin for minutes.
 *
 * needs_rehash (may be NULL) is set to 1 on a match when the stored hash is
 * weaker than a fresh kt_password_hash(pw, current) would be: a legacy
 * scheme, log_n, r or p below current, or a shorter salt or hash. The
 * caller then stores a new hash. It is 0 in every other case.
 */
int kt_password_verify(const char *pw, const char *phc,
		       const struct kt_password_params *current,
		       int *needs_rehash, struct kt_error *err);

/*
 * Spend the same work as kt_password_verify() of a hash made with params,
 * and throw the result away. Call it when the account does not exist so
 * that "unknown email" and "wrong password" take equally long.
 */
void kt_password_dummy_verify(const char *pw,
			      const struct kt_password_params *params);

/*
 * Policy for new passwords: valid UTF-8, 12 to 128 code points, not only
 * whitespace. Returns KT_OK (and *reason = NULL) or KT_ERR_INVALID with
 * *reason set to a static key for the UI to translate: "missing",
 * "invalid_utf8", "too_short", "too_long", "whitespace_only".
 */
#define KT_PASSWORD_POLICY_MIN_CHARS 12
#define KT_PASSWORD_POLICY_MAX_CHARS 128

/* Whether phc is in the current scheme (scrypt), as kt_password_hash
 * writes it; legacy formats and garbage are not. */
int kt_password_is_current(const char *phc);

int kt_password_policy_check(const char *pw, const char **reason);

/* A static English sentence for a policy key; never NULL. */
const char *kt_password_policy_describe(const char *reason);

#endif
