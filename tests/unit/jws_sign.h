#ifndef KONTOR_TEST_JWS_SIGN_H
#define KONTOR_TEST_JWS_SIGN_H

/*
 * Test-side JWS producers built only on OpenSSL, so that tests of our
 * verifiers never trust kt_jws_sign: any header, RS256, PS256, ES256 and
 * HS256. Header-only, like http_server.h; needs cmocka.h included before.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include "kontor/util.h"

static inline char *b64(const void *in, size_t n)
{
	char *s = malloc(kt_b64url_len(n) + 1);
	assert_non_null(s);
	kt_b64url_encode(s, in, n);
	return s;
}

/*
 * Independent signer for arbitrary headers, built only on OpenSSL (and
 * d2i_ECDSA_SIG for the raw form), so tests do not trust kt_jws_sign.
 * alg: "RS256", "PS256", "ES256".
 */
static inline char *sign_custom(EVP_PKEY *key, const char *alg, const char *hdr,
				const char *payload)
{
	char *h = b64(hdr, strlen(hdr)), *p = b64(payload, strlen(payload));
	size_t inlen = strlen(h) + 1 + strlen(p);
	char *input = malloc(inlen + 1), *sig64, *out;
	uint8_t sig[1024], raw[64];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;

	snprintf(input, inlen + 1, "%s.%s", h, p);
	assert_int_equal(
	    EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, key), 1);
	if (strcmp(alg, "PS256") == 0) {
		assert_int_equal(
		    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING),
		    1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(
				     pctx, RSA_PSS_SALTLEN_DIGEST),
				 1);
	}
	assert_int_equal(
	    EVP_DigestSign(ctx, sig, &siglen, (const uint8_t *)input, inlen),
	    1);
	if (strcmp(alg, "ES256") == 0) {
		const uint8_t *q = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)siglen);
		const BIGNUM *r, *s;
		assert_non_null(es);
		ECDSA_SIG_get0(es, &r, &s);
		BN_bn2binpad(r, raw, 32);
		BN_bn2binpad(s, raw + 32, 32);
		ECDSA_SIG_free(es);
		sig64 = b64(raw, 64);
	} else {
		sig64 = b64(sig, siglen);
	}
	out = malloc(inlen + strlen(sig64) + 2);
	snprintf(out, inlen + strlen(sig64) + 2, "%s.%s", input, sig64);
	EVP_MD_CTX_free(ctx);
	free(h);
	free(p);
	free(input);
	free(sig64);
	return out;
}

/* HS256 over header.payload with a raw secret. */
static inline char *sign_hs256(const void *secret, size_t secret_len,
			       const char *hdr, const char *payload)
{
	char *h = b64(hdr, strlen(hdr)), *p = b64(payload, strlen(payload));
	size_t inlen = strlen(h) + 1 + strlen(p);
	char *input = malloc(inlen + 1), *sig64, *out;
	uint8_t mac[32];
	unsigned int maclen = sizeof(mac);

	assert_non_null(input);
	snprintf(input, inlen + 1, "%s.%s", h, p);
	assert_non_null(HMAC(EVP_sha256(), secret, (int)secret_len,
			     (const uint8_t *)input, inlen, mac, &maclen));
	sig64 = b64(mac, maclen);
	out = malloc(inlen + strlen(sig64) + 2);
	assert_non_null(out);
	snprintf(out, inlen + strlen(sig64) + 2, "%s.%s", input, sig64);
	free(h);
	free(p);
	free(input);
	free(sig64);
	return out;
}

#endif
