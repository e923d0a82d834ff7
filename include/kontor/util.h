#ifndef KONTOR_UTIL_H
#define KONTOR_UTIL_H

/*
 * Small helpers every module needs: randomness, base64url, constant-time
 * comparison, hashes and clocks. All functions are thread-safe.
 */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define KT_SHA256_LEN 32

/*
 * Fill buf with n bytes from the CSPRNG (OpenSSL's RAND_bytes). 0 or
 * KT_ERR_CRYPTO. Requests of up to 64 bytes are served from a per-thread
 * batch of 256 bytes, wiped as it is handed out and dropped in a forked
 * child (lib/util.c says why that is safe); a thread's batch is not wiped
 * when the thread exits.
 */
int kt_random_bytes(void *buf, size_t n);

/*
 * A random token of nbytes entropy, base64url without padding, written to out
 * (capacity outcap, must be >= kt_b64url_len(nbytes) + 1).
 */
int kt_random_token(char *out, size_t outcap, size_t nbytes);

/* Length of the unpadded base64url encoding of n bytes (no terminator). */
size_t kt_b64url_len(size_t n);

/* Encode n bytes; out must hold kt_b64url_len(n)+1. Returns length written. */
size_t kt_b64url_encode(char *out, const void *in, size_t n);

/*
 * Decode unpadded base64url (padding '=' tolerated at the end only). Writes
 * at most outcap bytes to out and the decoded length to *outlen. Rejects any
 * character outside the alphabet: KT_ERR_INVALID; too long: KT_ERR_LIMIT.
 */
int kt_b64url_decode(void *out, size_t outcap, size_t *outlen, const char *in,
		     size_t inlen);

/*
 * Standard base64 (RFC 4648 section 4, alphabet "+/"), unpadded: the
 * encoding of salts and hashes in PHC strings. Same contracts as the
 * base64url pair above; kt_b64url_len() gives the encoded length too.
 */
size_t kt_b64_encode(char *out, const void *in, size_t n);
/* The same with '=' padding (HTTP Basic, RFC 7617); out holds
 * 4 * ((n + 2) / 3) + 1 bytes. */
size_t kt_b64_encode_padded(char *out, const void *in, size_t n);
int kt_b64_decode(void *out, size_t outcap, size_t *outlen, const char *in,
		  size_t inlen);

/*
 * Constant-time equality of two byte strings. Different lengths compare
 * unequal (the length itself is not secret in our uses).
 */
int kt_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/* Convenience for NUL-terminated secrets; NULL never equals anything. */
int kt_ct_streq(const char *a, const char *b);

void kt_sha256(uint8_t out[KT_SHA256_LEN], const void *in, size_t n);
int kt_hmac_sha256(uint8_t out[KT_SHA256_LEN], const void *key, size_t keylen,
		   const void *in, size_t n);

/*
 * base64url(SHA-256(s)) truncated to 22 characters (128 bits): the form in
 * which codes, refresh tokens and secrets are used as Redis keys, and a
 * safe fingerprint for logs. out must hold 23 bytes.
 */
void kt_token_hash(char out[23], const char *s);

/* Wall clock in seconds and milliseconds; monotonic in milliseconds. */
int64_t kt_now(void);
int64_t kt_now_ms(void);
int64_t kt_mono_ms(void);

/* Securely wipe and free a heap string; NULL ok. */
void kt_free_secret(char *s);

/* 1 if the space-separated list (scopes, prompt values) has the token. */
int kt_scope_has(const char *scopes, const char *scope);

/* Value of one hexadecimal digit, or -1. */
int kt_hex_value(unsigned char c);

/* s, or def when s is NULL (the portable spelling of GNU "s ?: def"). */
static inline const char *kt_str_or(const char *s, const char *def)
{
	return s != NULL ? s : def;
}

/* strcmp equality that treats NULL as different from everything. */
static inline int kt_str_eq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* strdup that returns NULL for NULL. */
char *kt_strdup(const char *s);

/*
 * Room for one more element in a growing array: arr holds n elements of
 * size elem in *cap slots. Returns arr while n < *cap; else arr reallocated
 * to twice *cap (first when *cap is 0) with *cap updated. NULL when out of
 * memory or the size would overflow; arr and *cap are then unchanged.
 *     struct x *nv = kt_grow(v->a, &v->cap, v->n, sizeof(*nv), 64);
 */
void *kt_grow(void *arr, size_t *cap, size_t n, size_t elem, size_t first);

/* Parse a non-negative decimal integer fully; KT_ERR_INVALID otherwise. */
int kt_parse_uint(const char *s, uint64_t max, uint64_t *out);

/*
 * 1 if the n bytes at s are well-formed UTF-8 (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF), else 0. NUL bytes count as valid
 * characters; callers that forbid them check separately.
 */
int kt_utf8_valid(const void *s, size_t n);

/*
 * Append the NUL-terminated s as the body of a JSON string (without the
 * quotes) at dst + off, never writing at or past dst + limit, and return
 * the new offset (dst is not NUL-terminated). '"' and '\\' are escaped,
 * '\n' as "\n", other control characters and DEL as "\u00XX"; bytes that
 * are not well-formed UTF-8 become "\ufffd", so the result is valid JSON
 * whatever s holds. A character is written whole or not at all; *cut is
 * set to 1 if s did not fit (and left alone otherwise). One input byte
 * takes at most 6 output bytes: limit - off >= 6 * strlen(s) always fits.
 * Shared by the log lines and the hand-built JSON of the token endpoint.
 */
size_t kt_json_escape(char *dst, size_t limit, size_t off, const char *s,
		      int *cut);

/*
 * v in decimal, NUL-terminated, into out; returns the length. For the hot
 * paths that used snprintf("%lld") (log lines, token claims, headers).
 */
#define KT_FMT_INT_LEN 21
size_t kt_fmt_int(char out[KT_FMT_INT_LEN], long long v);

#endif
