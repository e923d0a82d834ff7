#ifndef KONTOR_PKCE_H
#define KONTOR_PKCE_H

/*
 * PKCE (RFC 7636), S256 only: "plain" offers no protection against a stolen
 * authorization request and RFC 9700 says not to use it.
 */

/* A code_challenge or code_verifier: 43..128 chars of [A-Za-z0-9-._~]. */
int kt_pkce_syntax_ok(const char *s);

/*
 * Constant-time check that BASE64URL(SHA256(verifier)) == challenge.
 * KT_OK, KT_ERR_INVALID (bad verifier syntax) or KT_ERR_DENIED (mismatch).
 */
int kt_pkce_verify_s256(const char *verifier, const char *challenge);

#endif
