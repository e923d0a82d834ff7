#ifndef KONTOR_JOSE_H
#define KONTOR_JOSE_H

/*
 * JOSE primitives: JWK thumbprints, compact JWS signing with our own keys
 * (RS256, ES256) straight on OpenSSL 3, OIDC at_hash, a bounded unverified
 * JWT peek, and verification of foreign JWS (private_key_jwt client
 * assertions) against a client's registered JWKS through cjose. The key
 * choice for a foreign JWS is also available on its own
 * (kt_jws_select_keys), for a verifier of another library (liboauth2 for
 * the upstream ID tokens of the federation).
 *
 * Everything that reads a compact serialisation bounds its length first and
 * parses JSON with JSON_REJECT_DUPLICATES, so that two parsers can never
 * disagree about which "alg" or "kid" a token carries.
 */

#include <stddef.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "kontor/err.h"

/* Longest compact JWS accepted by the verify functions (bytes). */
#define KT_JOSE_MAX_COMPACT 16384
/* Longest payload kt_jws_sign accepts (bytes). */
#define KT_JOSE_MAX_PAYLOAD (256 * 1024)
/* Most keys a client JWKS may hold. */
#define KT_JOSE_MAX_JWKS_KEYS 32
/* RSA moduli accepted for signing and verification, in bits. */
#define KT_JOSE_RSA_MIN_BITS 2048
#define KT_JOSE_RSA_MAX_BITS 8192
/* Capacity of a thumbprint / at_hash buffer (43 characters + NUL). */
#define KT_JOSE_THUMBPRINT_LEN 44

/*
 * RFC 7638 thumbprint of a public JWK: base64url(SHA-256) of the required
 * members in lexicographic order (EC: crv,kty,x,y; RSA: e,kty,n). out gets 43
 * characters and a NUL. KT_ERR_INVALID if a required member is missing or not
 * a string, KT_ERR_UNSUPPORTED for another kty.
 */
int kt_jwk_thumbprint(const json_t *jwk, char out[KT_JOSE_THUMBPRINT_LEN]);

/*
 * Public JWK of pkey: {"kty":"RSA","n","e"} or {"kty":"EC","crv":"P-256",
 * "x","y"}. Private parameters are never included. *out is a new reference
 * the caller releases with json_decref. KT_ERR_UNSUPPORTED for other key types
 * or curves.
 */
int kt_jwk_from_pkey(EVP_PKEY *pkey, json_t **out);

/*
 * Compact JWS over payload[0..len) with header {"alg","kid","typ"} (kid and
 * typ omitted when NULL; both limited to 128 printable ASCII characters
 * without '"' or '\'). alg is "RS256" (RSA key, PKCS#1 v1.5) or "ES256"
 * (P-256 key; the signature is the raw 64-byte r||s of RFC 7518 3.4).
 * *out is a NUL-terminated string the caller frees with free().
 *
 * Thread-safe: several threads may sign with the same EVP_PKEY at once; the
 * key is only read. One heap allocation for the result besides OpenSSL's
 * per-call context.
 */
int kt_jws_sign(EVP_PKEY *key, const char *alg, const char *kid,
		const char *typ, const char *payload, size_t len, char **out,
		struct kt_error *err);

/*
 * Verify a compact JWS signed by key with algorithm alg (our own tokens:
 * "RS256" or "ES256"). The header's alg must equal alg exactly. On success
 * *header and *payload (either may be NULL if not wanted) are new JSON object
 * references. Claims (exp, iss, ...) are not checked here.
 * KT_ERR_LIMIT: longer than KT_JOSE_MAX_COMPACT; KT_ERR_INVALID: malformed;
 * KT_ERR_DENIED: alg mismatch or bad signature.
 */
int kt_jws_verify_pkey(EVP_PKEY *key, const char *alg, const char *compact,
		       json_t **header, json_t **payload, struct kt_error *err);

/*
 * A key prepared for one alg ("RS256" or "ES256"), for signing and
 * verifying many tokens: the key is checked against the alg once, here
 * (kt_jws_sign does it on every call), and the OpenSSL contexts are set up
 * once and reused, which spares the per-call algorithm fetches of
 * EVP_DigestSignInit. kid (may be NULL) goes into every header it signs;
 * same rules as kt_jws_sign. Takes its own reference on pkey.
 *
 * Thread-safe: any number of threads may sign and verify with one prepared
 * key at once (a few idle contexts are kept under a mutex; a thread holds
 * one only for the signature itself). Free with kt_jws_key_free (NULL ok)
 * once no thread uses it.
 */
struct kt_jws_key;
int kt_jws_key_new(EVP_PKEY *pkey, const char *alg, const char *kid,
		   struct kt_jws_key **out, struct kt_error *err);
void kt_jws_key_free(struct kt_jws_key *k);

/* kt_jws_sign with a prepared key: same output, same errors. */
int kt_jws_key_sign(struct kt_jws_key *k, const char *typ, const char *payload,
		    size_t len, char **out, struct kt_error *err);

/*
 * kt_jws_verify_pkey with a prepared key, for a caller that has already
 * parsed the header to choose the key: header is the header of this very
 * compact as kt_jwt_decode_unverified returned it (it is not parsed
 * again). The header alg must be the key's alg; same checks, same errors
 * as kt_jws_verify_pkey from there on. *payload (may be NULL) as there.
 */
int kt_jws_key_verify(struct kt_jws_key *k, const char *compact,
		      const json_t *header, json_t **payload,
		      struct kt_error *err);

/*
 * OIDC at_hash (and c_hash) of token for an id_token signed with alg:
 * base64url of the left half of SHA-256(token) for RS256, ES256 and PS256.
 * out gets 22 characters and a NUL. KT_ERR_UNSUPPORTED for other algs.
 */
int kt_jose_at_hash(const char *alg, const char *token,
		    char out[KT_JOSE_THUMBPRINT_LEN]);

/*
 * Parse a compact JWT WITHOUT verifying it: exactly three dot-separated
 * base64url parts, at most max_len bytes, header and payload JSON objects.
 * Only for choosing the verification key (e.g. by a client assertion's iss);
 * never trust what it returns. header or payload may be NULL to skip
 * returning (payload == NULL also skips parsing it). Returned objects are
 * new references. KT_ERR_LIMIT or KT_ERR_INVALID with a message.
 */
int kt_jwt_decode_unverified(const char *compact, size_t max_len,
			     json_t **header, json_t **payload,
			     struct kt_error *err);

/*
 * Verify a foreign compact JWS against a client's JWKS ({"keys":[...]}) with
 * cjose. The header alg must be one of allowed_algs (NULL-terminated; only
 * RS256, ES256 and PS256 are ever honoured); "none" and HS* are always
 * rejected. A header kid selects the key; without kid every key whose kty
 * fits the alg is tried. Keys with "use" other than "sig" or an "alg" other
 * than the header's are skipped; RSA keys must have 2048..8192 bits, EC keys
 * must be P-256. Keys named in the token itself (jwk, jku, x5u, x5c headers)
 * are ignored: only the registered JWKS counts. On success *payload (may be
 * NULL) is a new reference to the payload object.
 *
 * Codes: KT_ERR_LIMIT (too long), KT_ERR_INVALID (malformed token or JWKS),
 * KT_ERR_DENIED (alg not allowed, signature verification failed),
 * KT_ERR_NOTFOUND (no usable key / kid unknown). err->msg says which.
 */
int kt_jws_verify_jwks(const char *compact, const json_t *jwks,
		       const char *const *allowed_algs, json_t **payload,
		       struct kt_error *err);

/*
 * The public part of an RSA or EC (P-256) JWK in the form every JOSE library
 * accepts: {"kty","kid"?,"n","e"} or {"kty","kid"?,"crv","x","y"}, other
 * members (use, alg, private parameters, x5c, ...) dropped. EC coordinates
 * are padded to 32 bytes: some providers strip leading zero bytes, which
 * cjose refuses (RFC 7518 §6.2.1.2 wants full length). Members must be
 * unpadded base64url (cjose 0.6 assert()s on some malformed values).
 * *out is a new object the caller releases with json_decref.
 * KT_ERR_UNSUPPORTED: kty other than RSA or EC ("oct" included), curve other
 * than P-256; KT_ERR_INVALID: a member missing or malformed.
 */
int kt_jwk_normalize(const json_t *jwk, json_t **out, struct kt_error *err);

/*
 * The keys of jwks that kt_jws_verify_jwks would try for compact, without
 * computing a signature: every check on the token (length, form, alg as for
 * kt_jws_verify_jwks, crit, kid) and on each key (kid, kty for the alg,
 * use, alg, RSA size, curve, signature length) is made, and the keys that
 * pass come back normalised (kt_jwk_normalize) in JWKS order as a new
 * non-empty JSON array in *keys (caller json_decrefs). The signature itself
 * is the caller's to verify, with one of these keys and the token's alg,
 * which is then known to be RS256, ES256 or PS256 and to fit each key.
 * Codes as kt_jws_verify_jwks; KT_ERR_DENIED without a signature computed
 * means a disallowed alg, no signature or one of an impossible length.
 */
int kt_jws_select_keys(const char *compact, const json_t *jwks,
		       const char *const *allowed_algs, json_t **keys,
		       struct kt_error *err);

#endif
