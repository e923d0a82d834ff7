#ifndef KONTOR_O2VERIFY_H
#define KONTOR_O2VERIFY_H

/*
 * A JWS from another party, verified by liboauth2's token verifier: an
 * upstream provider's ID token (federation) and a client's private_key_jwt
 * assertion. We choose the keys, liboauth2 (with cjose) checks the
 * signature.
 *
 * kt_jws_select_keys picks the candidate keys from jwks: by the header's
 * kid, of a type that fits its alg, which must be in algs (RS256, ES256,
 * PS256 at most; none, HS* and anything else refused), never oct. Each
 * becomes a liboauth2 "jwk" verifier (no network I/O, never a jwks_uri
 * fetch: those block), and oauth2_token_verify checks the token with them,
 * and iat, if present, at most KT_O2_IAT_SLACK_S ahead. The verified bytes
 * are then parsed once more by kt_jwt_decode_unverified (bounded, duplicate
 * names refused), and exp must be there and at most KT_O2_EXP_LEEWAY_S in
 * the past (checked here: liboauth2 allows no leeway for exp). *claims
 * (new reference) is what the caller checks further (iss, aud, nonce,
 * jti, ...).
 *
 * Codes: those of kt_jws_select_keys (KT_ERR_NOTFOUND: no key with that
 * kid, the issuer may have rotated; KT_ERR_INVALID: malformed, alg not
 * allowed), KT_ERR_DENIED when liboauth2 refuses (signature or iat; its
 * log line tells which) or exp is missing ("token without exp") or past
 * ("token expired"), KT_ERR_INTERNAL, KT_ERR_NOMEM. err->msg is
 * safe to show to the presenter of the token.
 *
 * Thread-safe: liboauth2 1.4.5.4 does not guard its process-wide state
 * (the list of caches, the cache a verifier uses) for threads setting up
 * verifiers at once, so calls are serialised by one process-wide lock.
 * Each is bounded CPU work: one verifier per candidate key (at most a few)
 * and one signature check per key.
 */

#include <jansson.h>

#include "kontor/err.h"

#define KT_O2_IAT_SLACK_S 120
#define KT_O2_EXP_LEEWAY_S 120

int kt_o2_jwt_verify(const char *jwt, const json_t *jwks,
		     const char *const *algs, json_t **claims,
		     struct kt_error *err);

#endif
