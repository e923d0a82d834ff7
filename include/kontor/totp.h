#ifndef KONTOR_TOTP_H
#define KONTOR_TOTP_H

/*
 * TOTP second factor (RFC 6238 over RFC 4226 HOTP): HMAC-SHA1, 6 digits,
 * 30 s step, the parameters every authenticator app defaults to (several
 * ignore the algorithm/digits/period URI parameters altogether).
 *
 * Also here: the base32 form of secrets (RFC 4648 section 6), the
 * otpauth:// provisioning URI, and sealing of secrets for storage in Redis
 * (AES-256-GCM under a key derived from keys/hmac.key, bound to the person
 * id). See docs/mfa.md.
 *
 * All functions are thread-safe and cheap enough for the event loop (one
 * verification is 2 * window + 1 HMAC-SHA1 computations).
 */

#include <stddef.h>
#include <stdint.h>

#include "kontor/err.h"

#define KT_TOTP_SECRET_LEN 20 /* 160 bits, RFC 4226 section 4 R6 */
#define KT_TOTP_SECRET_MIN 16 /* 128 bits, RFC 4226's minimum */
#define KT_TOTP_SECRET_MAX 64 /* bound for decode, verify and open */
#define KT_TOTP_DIGITS 6
#define KT_TOTP_PERIOD 30
#define KT_TOTP_WINDOW_DEFAULT 1 /* RFC 6238 section 5.2: one step back */
#define KT_TOTP_WINDOW_MAX 10

/* Longest issuer and account name for kt_totp_uri, in bytes. */
#define KT_TOTP_ISSUER_MAX 128
#define KT_TOTP_ACCOUNT_MAX 256

/* Longest base32 text kt_totp_base32_decode reads (spaces included). */
#define KT_TOTP_BASE32_IN_MAX 256

/* Longest person id used as associated data, in bytes. */
#define KT_TOTP_PERSON_MAX 256
/* Longest sealed string kt_totp_open accepts. */
#define KT_TOTP_SEALED_MAX 256

/*
 * HKDF labels: one key per purpose, both derived from keys/hmac.key with
 * kt_totp_derive_key. Changing a label makes every stored value unusable.
 */
#define KT_TOTP_SEAL_LABEL "kontor totp seal v1"
#define KT_TOTP_RECOVERY_LABEL "kontor recovery codes v1"

/* A fresh random secret of KT_TOTP_SECRET_LEN bytes. 0 or KT_ERR_CRYPTO. */
int kt_totp_secret_new(uint8_t out[KT_TOTP_SECRET_LEN]);

/* Length of the unpadded base32 encoding of n bytes (no terminator). */
size_t kt_totp_base32_len(size_t n);

/*
 * Encode n bytes as upper-case base32 without '=' padding; out must hold
 * kt_totp_base32_len(n) + 1. Returns the length written.
 */
size_t kt_totp_base32_encode(char *out, const uint8_t *in, size_t n);

/*
 * The secret for manual entry ("can't scan the code?"): base32 in groups
 * of four separated by one space, e.g. "JBSW Y3DP EHPK 3PXP". out must hold
 * kt_totp_base32_len(n) * 5 / 4 + 1. Returns the length written.
 * kt_totp_base32_decode reads it back.
 */
size_t kt_totp_secret_display(char *out, const uint8_t *in, size_t n);

/*
 * Decode base32: case-insensitive, ASCII spaces ignored anywhere, trailing
 * '=' padding tolerated (nothing but padding or spaces may follow it).
 *   KT_ERR_INVALID  a character outside the alphabet, an impossible length
 *                   (1, 3 or 6 symbols in the last group) or non-zero
 *                   trailing bits; err says which
 *   KT_ERR_LIMIT    more than KT_TOTP_BASE32_IN_MAX input bytes, or more
 *                   than outcap decoded bytes
 * *outlen is 0 on failure.
 */
int kt_totp_base32_decode(uint8_t *out, size_t outcap, size_t *outlen,
			  const char *in, struct kt_error *err);

/*
 * The provisioning URI for authenticator apps (Google's "Key Uri Format"):
 *
 *   otpauth://totp/<issuer>:<account>?secret=<base32>&issuer=<issuer>
 *       &algorithm=SHA1&digits=6&period=30
 *
 * issuer and account are percent-encoded (RFC 3986: everything but
 * unreserved characters and '@' becomes %XX of its UTF-8 bytes, so a space
 * is %20, never '+'). Both must be non-empty UTF-8 without control
 * characters and without ':' (the label separator; apps split on it even
 * when encoded). *out is a NUL-terminated string the caller frees with
 * kt_free_secret() (it contains the secret).
 *   KT_ERR_INVALID  NULL or bad argument, err says which
 *   KT_ERR_LIMIT    issuer longer than KT_TOTP_ISSUER_MAX, account longer
 *                   than KT_TOTP_ACCOUNT_MAX, secret longer than
 *                   KT_TOTP_SECRET_MAX
 *   KT_ERR_NOMEM
 */
int kt_totp_uri(const char *issuer, const char *account, const uint8_t *secret,
		size_t len, char **out, struct kt_error *err);

/*
 * RFC 4226 HOTP value for counter with 6..8 digits, zero-padded, into out
 * (capacity outcap >= digits + 1). TOTP is this with counter = now / 30.
 * For tests, tools and the RFC vectors; logins use kt_totp_verify.
 * 0, KT_ERR_INVALID (bad arguments, secret shorter than 1 or longer than
 * KT_TOTP_SECRET_MAX bytes) or KT_ERR_CRYPTO.
 */
int kt_totp_hotp(const uint8_t *secret, size_t len, uint64_t counter,
		 unsigned digits, char *out, size_t outcap);

/*
 * Check a 6-digit code at time now (Unix seconds) against the steps
 * now/30 - window .. now/30 + window. Every step in the window is
 * computed and compared in constant time, whatever matches.
 *
 * Replay protection: a step <= last_used_step is never accepted (pass -1
 * when the person has not used a code yet). On success *matched_step is
 * the step that matched (the latest, should two match); the caller stores
 * it as the new last_used_step, atomically with the check that it is
 * still greater than the stored one (two logins racing with one code).
 * *matched_step is -1 on any failure.
 *
 *   KT_OK           accepted
 *   KT_ERR_INVALID  code is not exactly six ASCII digits; secret shorter
 *                   than KT_TOTP_SECRET_MIN or longer than
 *                   KT_TOTP_SECRET_MAX; window outside 0..KT_TOTP_WINDOW_MAX;
 *                   now < 0; last_used_step < -1; NULL argument
 *   KT_ERR_DENIED   no step in the window matches
 *   KT_ERR_CONFLICT the code matches only steps <= last_used_step (a
 *                   replay). Show the same message as for DENIED; the
 *                   distinction is for the audit log.
 *   KT_ERR_CRYPTO
 *
 * The caller throttles attempts per person: each guess has a chance of
 * (2 * window + 1) / 10^6.
 */
int kt_totp_verify(const uint8_t *secret, size_t len, const char *code,
		   int64_t now, int window, int64_t last_used_step,
		   int64_t *matched_step);

/*
 * 32-byte key from input key material (keys/hmac.key) with HKDF-SHA256
 * (RFC 5869, no salt, info = label). Use KT_TOTP_SEAL_LABEL for
 * kt_totp_seal/open and KT_TOTP_RECOVERY_LABEL for kt_recovery_*.
 * 0, KT_ERR_INVALID (ikm shorter than 16 bytes, empty or NULL label) or
 * KT_ERR_CRYPTO. The caller wipes out with OPENSSL_cleanse when done.
 */
int kt_totp_derive_key(const uint8_t *ikm, size_t len, const char *label,
		       uint8_t out[32]);

/*
 * Seal a secret for storage: AES-256-GCM with a random 96-bit nonce and
 * the person id as associated data, so a sealed value copied to another
 * account does not open. Output (caller frees with free()):
 *
 *   v1.<base64url nonce>.<base64url ciphertext || 16-byte tag>
 *
 * 0, KT_ERR_INVALID (NULL argument, empty secret or person id),
 * KT_ERR_LIMIT (secret longer than KT_TOTP_SECRET_MAX, person id longer
 * than KT_TOTP_PERSON_MAX), KT_ERR_CRYPTO or KT_ERR_NOMEM.
 */
int kt_totp_seal(const uint8_t key[32], const char *person_id,
		 const uint8_t *secret, size_t len, char **out);

/*
 * Open a value made by kt_totp_seal for the same person id, writing the
 * secret to out (capacity outcap) and its length to *outlen (0 on failure).
 *   KT_ERR_UNSUPPORTED  a version other than v1
 *   KT_ERR_INVALID      malformed string, err says what
 *   KT_ERR_LIMIT        longer than KT_TOTP_SEALED_MAX, or the secret does
 *                       not fit in outcap
 *   KT_ERR_DENIED       authentication failed: wrong key, another person
 *                       id, or the value was modified
 *   KT_ERR_CRYPTO
 * The caller wipes out with OPENSSL_cleanse when done.
 */
int kt_totp_open(const uint8_t key[32], const char *person_id,
		 const char *sealed, uint8_t *out, size_t outcap,
		 size_t *outlen, struct kt_error *err);

#endif
