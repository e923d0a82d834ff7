#ifndef KONTOR_KEYSET_H
#define KONTOR_KEYSET_H

/*
 * The gateway's signing keys and server HMAC secret.
 *
 * On disk, in one directory (default "keys/", mode 0700):
 *   <kid>.pem     PKCS#8 PEM private key, 0600, kid = RFC 7638 thumbprint
 *   keyset.json   {"keys":[{"kid","alg","state","created","activated",
 *                  "retired"}]}, times in Unix seconds, replaced atomically
 *   hmac.key      32 random bytes, 0600 (CSRF tokens, client-secret hashes,
 *                  pairwise identifiers)
 *   .lock         flock(2) taken by the management functions
 *
 * Each alg (RS256, ES256) has one "active" key that signs, one "next" key
 * that is published in the JWKS before it ever signs, and any number of
 * "retired" keys that stay published for retire_window_s seconds after
 * retirement so every token they signed can still be verified. See
 * keys/README.md for the rotation procedure.
 *
 * A loaded struct kt_keyset is immutable: share it between threads freely;
 * reload by loading a new one and swapping pointers.
 */

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "kontor/err.h"

#define KT_KEYSET_DEFAULT_DIR "keys"
#define KT_KEYSET_HMAC_LEN 32
#define KT_KEYSET_DEFAULT_RSA_BITS 2048
/* Bound on keyset.json entries: prune retired keys long before this. */
#define KT_KEYSET_MAX_KEYS 64

struct kt_keyset;

/*
 * Load dir: every published key's private key, the HMAC secret and the
 * pre-serialised JWKS. Published = next, active, and retired less than
 * retire_window_s seconds ago (older retired keys are not even read). Fails
 * with a message naming the file if keyset.json or a key file is missing,
 * unreadable or malformed, a private key file is accessible by group or
 * others, a key does not match its kid or alg, hmac.key is not 32 bytes, or
 * there is no active RS256 or ES256 key. *out is freed with kt_keyset_free.
 */
int kt_keyset_load(const char *dir, int64_t retire_window_s,
		   struct kt_keyset **out, struct kt_error *err);
void kt_keyset_free(struct kt_keyset *ks);

/* {"keys":[...]} of the published keys (kid, alg, use=sig); owned by ks. */
const char *kt_keyset_jwks_json(const struct kt_keyset *ks);

/*
 * Compact JWS of payload signed by the active key for alg ("RS256" or
 * "ES256"), header {"alg","kid","typ"} (typ may be NULL). *out is freed by
 * the caller with free(). Thread-safe.
 */
int kt_keyset_sign(const struct kt_keyset *ks, const char *alg, const char *typ,
		   const char *payload, size_t len, char **out,
		   struct kt_error *err);

/*
 * Verify one of our own tokens (id_token_hint, access tokens): the header
 * kid must name a published key and the header alg must be that key's alg.
 * exp and other claims are NOT checked: that is the caller's job. On
 * success *header / *payload (either may be NULL) are new references.
 * KT_ERR_NOTFOUND for an unknown kid, KT_ERR_DENIED for a wrong alg or
 * signature, KT_ERR_INVALID / KT_ERR_LIMIT for malformed input.
 */
int kt_keyset_verify(const struct kt_keyset *ks, const char *compact,
		     json_t **header, json_t **payload, struct kt_error *err);

/*
 * kt_keyset_verify remembers, per thread (= per event loop), up to 1024
 * tokens that it verified successfully with payload wanted, keyed by
 * SHA-256 of the token and by the keyset, until the token's exp claim
 * (tokens without an integer exp are not remembered). The same token
 * string presented again under the same keyset skips the signature
 * verification: the result cannot differ, since verification depends on
 * nothing else; revocation and claims stay the caller's checks, every
 * time. A reloaded keyset starts with an empty cache. These are the
 * calling thread's counts of hits and misses (tests, metrics).
 */
void kt_keyset_verify_cache_stats(uint64_t *hits, uint64_t *misses);

/* The server HMAC secret (KT_KEYSET_HMAC_LEN bytes), owned by ks. */
void kt_keyset_hmac_key(const struct kt_keyset *ks, const uint8_t **key,
			size_t *len);

/* 1 if ks has an active key for alg, else 0. */
int kt_keyset_has_alg(const struct kt_keyset *ks, const char *alg);

/*
 * Management, for the `kontor-idp keys` CLI (blocking I/O; never call on the
 * event loop). All take an exclusive lock on dir/.lock, write new private
 * keys (O_EXCL, 0600) before the metadata that names them, and replace
 * keyset.json atomically (temp file, fsync, rename, fsync of dir).
 */

/*
 * Create dir (0700) if needed and make sure each alg has an active and a
 * next key and hmac.key exists. Idempotent. rsa_bits 0 means 2048; accepted
 * range 2048..8192.
 */
int kt_keyset_generate(const char *dir, int rsa_bits, struct kt_error *err);

/*
 * For alg (or both algs when NULL): active -> retired (timestamped),
 * next -> active, and a new next key. Needs an active and a next key.
 */
int kt_keyset_rotate(const char *dir, const char *alg, int rsa_bits,
		     struct kt_error *err);

/*
 * Delete keys retired at least retire_window_s seconds ago: first from
 * keyset.json, then their files (each deletion is logged at info level).
 */
int kt_keyset_prune(const char *dir, int64_t retire_window_s,
		    struct kt_error *err);

/* Print the keys (a table, or a JSON document when as_json) to out. */
int kt_keyset_list(const char *dir, FILE *out, int as_json,
		   struct kt_error *err);

#endif
