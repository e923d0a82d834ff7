#ifndef KONTOR_RECOVERY_H
#define KONTOR_RECOVERY_H

/*
 * Recovery codes: single-use second-factor codes for a person who lost
 * their authenticator. Shown once at enrolment as "xxxxx-xxxxx": ten
 * symbols of Crockford's base32 alphabet (0-9 a-z without i l o u), 50
 * random bits each.
 *
 * Only a keyed hash of each code is stored:
 *
 *   base64url(HMAC-SHA256(key, person_id || 0x00 || normalised code))
 *
 * with key = kt_totp_derive_key(hmac.key, KT_TOTP_RECOVERY_LABEL). No slow
 * KDF: the codes are random, not chosen by people, so there is no
 * dictionary to try; without the key (which never is in Redis) a stolen
 * hash cannot be tested at all; and whoever has both Redis and hmac.key
 * can open the sealed TOTP secret anyway, so a slow hash would protect
 * nothing more while costing n scrypt runs per attempt. The person id in
 * the message keeps a hash list from being copied to another account and
 * makes an attacker with the key work per account. See docs/mfa.md.
 *
 * Single use is the caller's job: remove the hash that matched in the same
 * atomic Redis operation that accepts it (e.g. SREM returning 1).
 */

#include <stddef.h>
#include <stdint.h>

#define KT_RECOVERY_COUNT_DEFAULT 10
#define KT_RECOVERY_COUNT_MAX 32
#define KT_RECOVERY_CODE_CHARS 10  /* symbols, without the dash */
#define KT_RECOVERY_DISPLAY_LEN 11 /* "xxxxx-xxxxx" */
#define KT_RECOVERY_HASH_LEN 43	   /* base64url of 32 bytes */
#define KT_RECOVERY_INPUT_MAX 64   /* longest input before normalising */
#define KT_RECOVERY_PERSON_MAX 256

struct kt_recovery_code {
	char code[KT_RECOVERY_DISPLAY_LEN + 1]; /* show once, then wipe */
	char hash[KT_RECOVERY_HASH_LEN + 1];	/* store this */
};

/*
 * Generate n fresh codes and their hashes into codes[0..n-1]. The caller
 * shows the codes once, stores the hashes (replacing any earlier set) and
 * wipes the array with OPENSSL_cleanse.
 * 0, KT_ERR_INVALID (NULL argument, empty key or person id, n outside
 * 1..KT_RECOVERY_COUNT_MAX), KT_ERR_LIMIT (person id longer than
 * KT_RECOVERY_PERSON_MAX) or KT_ERR_CRYPTO. On failure codes is zeroed.
 */
int kt_recovery_generate(const uint8_t *key, size_t keylen,
			 const char *person_id, struct kt_recovery_code *codes,
			 size_t n);

/*
 * Canonical form of what a person typed: upper case folded to lower case,
 * '-' and ASCII spaces dropped, the look-alikes o -> 0 and i, l -> 1
 * mapped (Crockford). out gets exactly KT_RECOVERY_CODE_CHARS symbols.
 * 0, KT_ERR_INVALID (NULL, a character outside the alphabet, or not ten
 * symbols) or KT_ERR_LIMIT (more than KT_RECOVERY_INPUT_MAX bytes).
 * out is empty on failure.
 */
int kt_recovery_normalise(const char *input,
			  char out[KT_RECOVERY_CODE_CHARS + 1]);

/*
 * The stored form of input (normalised first), for a caller that looks the
 * hash up directly (SREM/SISMEMBER) instead of calling kt_recovery_check.
 * Errors as kt_recovery_normalise, plus KT_ERR_INVALID for a NULL or empty
 * key or person id, KT_ERR_LIMIT for a person id longer than
 * KT_RECOVERY_PERSON_MAX, and KT_ERR_CRYPTO. out is empty on failure.
 */
int kt_recovery_hash(const uint8_t *key, size_t keylen, const char *person_id,
		     const char *input, char out[KT_RECOVERY_HASH_LEN + 1]);

/*
 * Check input against the stored hashes[0..n-1] (NULL entries are used-up
 * slots and never match). Every entry is compared in constant time; on a
 * match *index is its position.
 *   KT_OK           match
 *   KT_ERR_DENIED   no entry matches
 *   KT_ERR_INVALID  malformed input (see kt_recovery_normalise), NULL
 *                   argument, n > KT_RECOVERY_COUNT_MAX
 *   KT_ERR_LIMIT, KT_ERR_CRYPTO as kt_recovery_hash
 * *index is (size_t)-1 on any failure. The caller throttles attempts per
 * person like password attempts.
 */
int kt_recovery_check(const uint8_t *key, size_t keylen, const char *person_id,
		      const char *input, const char *const *hashes, size_t n,
		      size_t *index);

#endif
