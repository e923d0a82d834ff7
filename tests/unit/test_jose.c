#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "kontor/err.h"
#include "kontor/jose.h"
#include "kontor/util.h"

#include "jws_sign.h"

/* Keys are generated once: RSA key generation dominates the run time. */
static EVP_PKEY *rsa1, *rsa2, *rsa1024, *ec1, *ec2;

static int group_setup(void **state)
{
	rsa1 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	rsa2 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	ec1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ec2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	return rsa1 && rsa2 && rsa1024 && ec1 && ec2 ? 0 : -1;
}

static int group_teardown(void **state)
{
	EVP_PKEY_free(rsa1);
	EVP_PKEY_free(rsa2);
	EVP_PKEY_free(rsa1024);
	EVP_PKEY_free(ec1);
	EVP_PKEY_free(ec2);
	return 0;
}

/* ---- helpers ---- */

static uint8_t *unb64(const char *in, size_t n, size_t *outlen)
{
	uint8_t *buf = malloc(n + 4);
	assert_non_null(buf);
	assert_int_equal(kt_b64url_decode(buf, n + 4, outlen, in, n), KT_OK);
	return buf;
}

/* Split a compact JWS in place into three parts. */
static void split3(char *s, char **h, char **p, char **sig)
{
	*h = s;
	*p = strchr(s, '.');
	assert_non_null(*p);
	*(*p)++ = '\0';
	*sig = strchr(*p, '.');
	assert_non_null(*sig);
	*(*sig)++ = '\0';
}

/* JWKS entry for pkey with kid (and optional alg/use). */
static json_t *jwk_for(EVP_PKEY *key, const char *kid)
{
	json_t *j = NULL;
	assert_int_equal(kt_jwk_from_pkey(key, &j), KT_OK);
	if (kid != NULL)
		json_object_set_new(j, "kid", json_string(kid));
	return j;
}

static json_t *jwks_of(json_t *a, json_t *b, json_t *c)
{
	json_t *keys = json_array();
	if (a)
		json_array_append_new(keys, a);
	if (b)
		json_array_append_new(keys, b);
	if (c)
		json_array_append_new(keys, c);
	return json_pack("{s:o}", "keys", keys);
}

static const char *const all_algs[] = {"RS256", "ES256", "PS256", NULL};

/* ---- thumbprints ---- */

static void test_thumbprint_rfc7638(void **state)
{
	/* RFC 7638 section 3.1, with the members the RFC lists as ignored. */
	json_t *jwk = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s}", "kty", "RSA", "n",
	    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu"
	    "1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4H"
	    "c5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqz"
	    "s8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4"
	    "vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8a"
	    "wapJzKnqDKgw",
	    "e", "AQAB", "alg", "RS256", "kid", "2011-04-29");
	char tp[KT_JOSE_THUMBPRINT_LEN];

	assert_int_equal(kt_jwk_thumbprint(jwk, tp), KT_OK);
	assert_string_equal(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");

	/* A required member missing or of the wrong type. */
	json_object_del(jwk, "e");
	assert_int_equal(kt_jwk_thumbprint(jwk, tp), KT_ERR_INVALID);
	json_object_set_new(jwk, "e", json_integer(65537));
	assert_int_equal(kt_jwk_thumbprint(jwk, tp), KT_ERR_INVALID);
	json_decref(jwk);

	jwk = json_pack("{s:s, s:s}", "kty", "oct", "k", "AAAA");
	assert_int_equal(kt_jwk_thumbprint(jwk, tp), KT_ERR_UNSUPPORTED);
	json_decref(jwk);
	assert_int_equal(kt_jwk_thumbprint(NULL, tp), KT_ERR_INVALID);
}

static void test_thumbprint_ec(void **state)
{
	/* EC member set is crv,kty,x,y; checked against a hand-built string. */
	json_t *jwk = NULL;
	char tp[KT_JOSE_THUMBPRINT_LEN], expect[KT_JOSE_THUMBPRINT_LEN];
	char canon[256];
	uint8_t d[KT_SHA256_LEN];

	assert_int_equal(kt_jwk_from_pkey(ec1, &jwk), KT_OK);
	snprintf(canon, sizeof(canon),
		 "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
		 json_string_value(json_object_get(jwk, "x")),
		 json_string_value(json_object_get(jwk, "y")));
	kt_sha256(d, canon, strlen(canon));
	kt_b64url_encode(expect, d, sizeof(d));
	json_object_set_new(jwk, "kid", json_string("ignored"));
	assert_int_equal(kt_jwk_thumbprint(jwk, tp), KT_OK);
	assert_string_equal(tp, expect);
	json_decref(jwk);
}

static void test_jwk_from_pkey(void **state)
{
	json_t *jwk = NULL;
	size_t n;

	assert_int_equal(kt_jwk_from_pkey(rsa1, &jwk), KT_OK);
	assert_string_equal(json_string_value(json_object_get(jwk, "kty")),
			    "RSA");
	assert_string_equal(json_string_value(json_object_get(jwk, "e")),
			    "AQAB");
	/* 2048-bit modulus = 256 bytes = 342 base64url characters. */
	n = strlen(json_string_value(json_object_get(jwk, "n")));
	assert_int_equal(n, 342);
	assert_null(json_object_get(jwk, "d"));
	assert_int_equal(json_object_size(jwk), 3);
	json_decref(jwk);

	assert_int_equal(kt_jwk_from_pkey(ec1, &jwk), KT_OK);
	assert_string_equal(json_string_value(json_object_get(jwk, "kty")),
			    "EC");
	assert_string_equal(json_string_value(json_object_get(jwk, "crv")),
			    "P-256");
	assert_int_equal(strlen(json_string_value(json_object_get(jwk, "x"))),
			 43);
	assert_int_equal(strlen(json_string_value(json_object_get(jwk, "y"))),
			 43);
	assert_null(json_object_get(jwk, "d"));
	json_decref(jwk);

	/* Other curves and key types are refused. */
	EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_int_equal(kt_jwk_from_pkey(p384, &jwk), KT_ERR_UNSUPPORTED);
	assert_null(jwk);
	assert_int_equal(kt_jwk_from_pkey(ed, &jwk), KT_ERR_UNSUPPORTED);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(ed);
}

/* ---- signing ---- */

static void check_header(const char *h64, const char *expect)
{
	size_t n;
	uint8_t *h = unb64(h64, strlen(h64), &n);
	assert_int_equal(n, strlen(expect));
	assert_memory_equal(h, expect, n);
	free(h);
}

static void test_sign_rs256(void **state)
{
	const char *payload = "{\"sub\":\"alice\",\"n\":1}";
	char *jws = NULL, *h, *p, *s, *input;
	struct kt_error err = {0};
	uint8_t *sig, *pl;
	size_t siglen, pllen;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	assert_int_equal(kt_jws_sign(rsa1, "RS256", "k1", "JWT", payload,
				     strlen(payload), &jws, &err),
			 KT_OK);
	input = strdup(jws);
	*strrchr(input, '.') = '\0';
	split3(jws, &h, &p, &s);
	check_header(h, "{\"alg\":\"RS256\",\"kid\":\"k1\",\"typ\":\"JWT\"}");
	pl = unb64(p, strlen(p), &pllen);
	assert_int_equal(pllen, strlen(payload));
	assert_memory_equal(pl, payload, pllen);
	sig = unb64(s, strlen(s), &siglen);
	assert_int_equal(siglen, 256);

	/* OpenSSL itself accepts the signature over header.payload. */
	assert_int_equal(
	    EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, rsa1), 1);
	assert_int_equal(EVP_DigestVerify(ctx, sig, siglen,
					  (const uint8_t *)input,
					  strlen(input)),
			 1);
	EVP_MD_CTX_free(ctx);
	free(sig);
	free(pl);
	free(input);
	free(jws);

	/* kid and typ are optional. */
	assert_int_equal(
	    kt_jws_sign(rsa1, "RS256", NULL, NULL, "{}", 2, &jws, &err), KT_OK);
	split3(jws, &h, &p, &s);
	check_header(h, "{\"alg\":\"RS256\"}");
	free(jws);
}

/* Verify a raw r||s ES256 signature with OpenSSL (DER built by OpenSSL). */
static int openssl_es256_verify(EVP_PKEY *key, const char *input,
				const uint8_t raw[64])
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	uint8_t *der = NULL;
	int derlen, ok;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	ECDSA_SIG_set0(es, BN_bin2bn(raw, 32, NULL),
		       BN_bin2bn(raw + 32, 32, NULL));
	derlen = i2d_ECDSA_SIG(es, &der);
	assert_true(derlen > 0);
	assert_int_equal(
	    EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
	ok = EVP_DigestVerify(ctx, der, (size_t)derlen, (const uint8_t *)input,
			      strlen(input));
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	return ok;
}

static void test_sign_es256(void **state)
{
	struct kt_error err = {0};
	int short_coord = 0;

	/*
	 * Many signatures, so that some r or s has leading zero bytes and the
	 * DER-to-raw conversion is exercised on short integers (~1 in 128).
	 */
	for (int i = 0; i < 600; i++) {
		char payload[64], *jws = NULL, *input, *h, *p, *s;
		uint8_t *sig;
		size_t siglen;

		snprintf(payload, sizeof(payload), "{\"i\":%d}", i);
		assert_int_equal(kt_jws_sign(ec1, "ES256", "e1", "at+jwt",
					     payload, strlen(payload), &jws,
					     &err),
				 KT_OK);
		input = strdup(jws);
		*strrchr(input, '.') = '\0';
		split3(jws, &h, &p, &s);
		if (i == 0)
			check_header(h, "{\"alg\":\"ES256\",\"kid\":\"e1\","
					"\"typ\":\"at+jwt\"}");
		sig = unb64(s, strlen(s), &siglen);
		assert_int_equal(siglen, 64);
		if (sig[0] == 0 || sig[32] == 0)
			short_coord++;
		assert_int_equal(openssl_es256_verify(ec1, input, sig), 1);
		assert_int_equal(openssl_es256_verify(ec2, input, sig), 0);
		free(sig);
		free(input);
		free(jws);
	}
	/* Not asserted (probabilistic), but reported when it happened. */
	print_message("ES256: %d of 600 signatures had a short r or s\n",
		      short_coord);
}

static void test_sign_rejects(void **state)
{
	struct kt_error err = {0};
	char *jws = (char *)"sentinel";
	char *big;

	assert_int_equal(
	    kt_jws_sign(rsa1, "HS256", NULL, NULL, "{}", 2, &jws, &err),
	    KT_ERR_UNSUPPORTED);
	assert_null(jws);
	assert_string_equal(err.msg,
			    "alg 'HS256' is not supported for signing");
	assert_int_equal(
	    kt_jws_sign(rsa1, "none", NULL, NULL, "{}", 2, &jws, &err),
	    KT_ERR_UNSUPPORTED);
	assert_int_equal(
	    kt_jws_sign(rsa1, "ES256", NULL, NULL, "{}", 2, &jws, &err),
	    KT_ERR_INVALID);
	assert_string_equal(err.msg, "key does not fit alg ES256 (needs EC "
				     "P-256)");
	assert_int_equal(
	    kt_jws_sign(ec1, "RS256", NULL, NULL, "{}", 2, &jws, &err),
	    KT_ERR_INVALID);
	assert_int_equal(
	    kt_jws_sign(rsa1024, "RS256", NULL, NULL, "{}", 2, &jws, &err),
	    KT_ERR_INVALID);
	assert_string_equal(err.msg, "key does not fit alg RS256 (needs RSA "
				     "of 2048..8192 bits)");
	/* Header values are written unescaped, so they must be plain. */
	assert_int_equal(
	    kt_jws_sign(rsa1, "RS256", "a\"b", NULL, "{}", 2, &jws, &err),
	    KT_ERR_INVALID);
	assert_int_equal(
	    kt_jws_sign(rsa1, "RS256", NULL, "JWT\\", "{}", 2, &jws, &err),
	    KT_ERR_INVALID);
	assert_int_equal(
	    kt_jws_sign(rsa1, "RS256", "", NULL, "{}", 2, &jws, &err),
	    KT_ERR_INVALID);
	big = calloc(1, KT_JOSE_MAX_PAYLOAD + 2);
	memset(big, 'a', KT_JOSE_MAX_PAYLOAD + 1);
	assert_int_equal(kt_jws_sign(rsa1, "RS256", NULL, NULL, big,
				     KT_JOSE_MAX_PAYLOAD + 1, &jws, &err),
			 KT_ERR_LIMIT);
	free(big);
	assert_null(jws);
}

struct sign_thread {
	EVP_PKEY *key;
	const char *alg;
	int failures;
};

static void *sign_worker(void *arg)
{
	struct sign_thread *t = arg;

	for (int i = 0; i < 40; i++) {
		char *jws = NULL;
		json_t *pl = NULL;
		if (kt_jws_sign(t->key, t->alg, "k", NULL, "{\"a\":1}", 7, &jws,
				NULL) != KT_OK ||
		    kt_jws_verify_pkey(t->key, t->alg, jws, NULL, &pl, NULL) !=
			KT_OK)
			t->failures++;
		json_decref(pl);
		free(jws);
	}
	return NULL;
}

static void test_sign_concurrent(void **state)
{
	pthread_t th[6];
	struct sign_thread t[6];

	for (int i = 0; i < 6; i++) {
		t[i].key = i % 2 ? ec1 : rsa1;
		t[i].alg = i % 2 ? "ES256" : "RS256";
		t[i].failures = 0;
		assert_int_equal(
		    pthread_create(&th[i], NULL, sign_worker, &t[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(t[i].failures, 0);
	}
}

/* ---- verification with a known key ---- */

static void test_verify_pkey(void **state)
{
	struct kt_error err = {0};
	json_t *h = NULL, *pl = NULL;
	char *jws = NULL;

	assert_int_equal(kt_jws_sign(ec1, "ES256", "e1", "JWT",
				     "{\"sub\":\"bob\"}", 13, &jws, &err),
			 KT_OK);
	assert_int_equal(kt_jws_verify_pkey(ec1, "ES256", jws, &h, &pl, &err),
			 KT_OK);
	assert_string_equal(json_string_value(json_object_get(h, "kid")), "e1");
	assert_string_equal(json_string_value(json_object_get(pl, "sub")),
			    "bob");
	json_decref(h);
	json_decref(pl);

	assert_int_equal(kt_jws_verify_pkey(ec2, "ES256", jws, &h, &pl, &err),
			 KT_ERR_DENIED);
	assert_string_equal(err.msg, "signature verification failed");
	assert_null(h);
	assert_null(pl);
	assert_int_equal(kt_jws_verify_pkey(rsa1, "RS256", jws, &h, &pl, &err),
			 KT_ERR_DENIED);
	assert_string_equal(err.msg,
			    "JWS alg 'ES256' does not match the key's alg "
			    "'RS256'");
	free(jws);

	assert_int_equal(
	    kt_jws_sign(rsa1, "RS256", "r1", NULL, "{}", 2, &jws, &err), KT_OK);
	assert_int_equal(
	    kt_jws_verify_pkey(rsa1, "RS256", jws, NULL, NULL, &err), KT_OK);
	assert_int_equal(
	    kt_jws_verify_pkey(rsa2, "RS256", jws, NULL, NULL, &err),
	    KT_ERR_DENIED);
	/* Truncated signature: 340 characters decode to 255 bytes exactly. */
	jws[strlen(jws) - 2] = '\0';
	assert_int_equal(
	    kt_jws_verify_pkey(rsa1, "RS256", jws, NULL, NULL, &err),
	    KT_ERR_DENIED);
	assert_string_equal(err.msg, "signature verification failed (length "
				     "255, expected 256)");
	free(jws);
}

/* ---- prepared keys ---- */

static void test_key_sign_verify(void **state)
{
	struct kt_error err = {0};
	struct kt_jws_key *ek = NULL, *rk = NULL, *ek2 = NULL;
	json_t *h = NULL, *pl = NULL;
	char *jws = NULL, *input, *hp, *pp, *sp;
	uint8_t *sig;
	size_t siglen;

	assert_int_equal(kt_jws_key_new(ec1, "ES256", "e1", &ek, &err), KT_OK);
	assert_int_equal(kt_jws_key_new(rsa1, "RS256", "r1", &rk, &err),
			 KT_OK);
	assert_int_equal(kt_jws_key_new(ec2, "ES256", NULL, &ek2, &err),
			 KT_OK);

	/* ES256: same header as kt_jws_sign, raw r||s OpenSSL accepts, and
	 * the unprepared verifier agrees. Many rounds reuse the contexts. */
	for (int i = 0; i < 200; i++) {
		char payload[64];
		snprintf(payload, sizeof(payload), "{\"i\":%d}", i);
		assert_int_equal(kt_jws_key_sign(ek, "at+jwt", payload,
						 strlen(payload), &jws, &err),
				 KT_OK);
		input = strdup(jws);
		*strrchr(input, '.') = '\0';
		assert_int_equal(kt_jws_verify_pkey(ec1, "ES256", jws, &h, &pl,
						    &err),
				 KT_OK);
		assert_int_equal(
		    json_integer_value(json_object_get(pl, "i")), i);
		json_decref(pl);
		pl = NULL;
		assert_int_equal(kt_jws_key_verify(ek, jws, h, &pl, &err),
				 KT_OK);
		assert_int_equal(
		    json_integer_value(json_object_get(pl, "i")), i);
		json_decref(pl);
		pl = (json_t *)1;
		/* Another key's context, also reused after failures. */
		assert_int_equal(kt_jws_key_verify(ek2, jws, h, &pl, &err),
				 KT_ERR_DENIED);
		assert_string_equal(err.msg, "signature verification failed");
		assert_null(pl);
		json_decref(h);
		split3(jws, &hp, &pp, &sp);
		if (i == 0)
			check_header(hp, "{\"alg\":\"ES256\",\"kid\":\"e1\","
					 "\"typ\":\"at+jwt\"}");
		sig = unb64(sp, strlen(sp), &siglen);
		assert_int_equal(siglen, 64);
		assert_int_equal(openssl_es256_verify(ec1, input, sig), 1);
		free(sig);
		free(input);
		free(jws);
	}

	/* RS256: PKCS#1 v1.5 is deterministic, so the prepared key's
	 * signature is byte for byte kt_jws_sign's. */
	{
		char *other = NULL;
		assert_int_equal(kt_jws_key_sign(rk, NULL, "{\"a\":1}", 7, &jws,
						 &err),
				 KT_OK);
		assert_int_equal(kt_jws_sign(rsa1, "RS256", "r1", NULL,
					     "{\"a\":1}", 7, &other, &err),
				 KT_OK);
		assert_string_equal(jws, other);
		free(other);
	}
	assert_int_equal(
	    kt_jwt_decode_unverified(jws, KT_JOSE_MAX_COMPACT, &h, NULL, &err),
	    KT_OK);
	assert_int_equal(kt_jws_key_verify(rk, jws, h, NULL, &err), KT_OK);
	/* The header alg must be the key's. */
	assert_int_equal(kt_jws_key_verify(ek, jws, h, &pl, &err),
			 KT_ERR_DENIED);
	assert_string_equal(err.msg, "JWS alg 'RS256' does not match the "
				     "key's alg 'ES256'");
	assert_null(pl);
	json_decref(h);
	/* Tampered payload. */
	hp = strchr(jws, '.') + 1;
	*hp = *hp == 'A' ? 'B' : 'A';
	assert_int_equal(
	    kt_jwt_decode_unverified(jws, KT_JOSE_MAX_COMPACT, &h, NULL, &err),
	    KT_OK);
	assert_int_equal(kt_jws_key_verify(rk, jws, h, NULL, &err),
			 KT_ERR_DENIED);
	assert_string_equal(err.msg, "signature verification failed");
	/* Truncated signature. */
	jws[strlen(jws) - 2] = '\0';
	assert_int_equal(kt_jws_key_verify(rk, jws, h, NULL, &err),
			 KT_ERR_DENIED);
	assert_string_equal(err.msg, "signature verification failed (length "
				     "255, expected 256)");
	assert_int_equal(kt_jws_key_verify(rk, "a.b", h, NULL, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg,
			    "JWS must have 3 dot-separated parts, found 2");
	json_decref(h);
	assert_int_equal(kt_jws_key_verify(rk, jws, NULL, NULL, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "kt_jws_key_verify: missing argument");
	free(jws);

	kt_jws_key_free(ek);
	kt_jws_key_free(rk);
	kt_jws_key_free(ek2);
	kt_jws_key_free(NULL);
}

static void test_key_rejects(void **state)
{
	struct kt_error err = {0};
	struct kt_jws_key *k = (struct kt_jws_key *)1;
	char *jws = (char *)"sentinel", *big;

	assert_int_equal(kt_jws_key_new(rsa1, "HS256", NULL, &k, &err),
			 KT_ERR_UNSUPPORTED);
	assert_null(k);
	assert_string_equal(err.msg,
			    "alg 'HS256' is not supported for signing");
	assert_int_equal(kt_jws_key_new(rsa1, "PS256", NULL, &k, &err),
			 KT_ERR_UNSUPPORTED);
	assert_int_equal(kt_jws_key_new(rsa1, "ES256", NULL, &k, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "key does not fit alg ES256 (needs EC "
				     "P-256)");
	assert_int_equal(kt_jws_key_new(ec1, "RS256", NULL, &k, &err),
			 KT_ERR_INVALID);
	assert_int_equal(kt_jws_key_new(rsa1024, "RS256", NULL, &k, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "key does not fit alg RS256 (needs RSA "
				     "of 2048..8192 bits)");
	assert_int_equal(kt_jws_key_new(ec1, "ES256", "a\"b", &k, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "kid/typ must be 1..128 printable ASCII "
				     "characters without '\"' or '\\'");
	assert_int_equal(kt_jws_key_new(ec1, "ES256", "", &k, &err),
			 KT_ERR_INVALID);
	assert_int_equal(kt_jws_key_new(NULL, "ES256", "k", &k, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "kt_jws_key_new: missing key");
	assert_null(k);

	assert_int_equal(kt_jws_key_new(ec1, "ES256", "k", &k, &err), KT_OK);
	assert_int_equal(kt_jws_key_sign(k, "JWT\\", "{}", 2, &jws, &err),
			 KT_ERR_INVALID);
	assert_null(jws);
	assert_string_equal(err.msg, "kid/typ must be 1..128 printable ASCII "
				     "characters without '\"' or '\\'");
	big = calloc(1, KT_JOSE_MAX_PAYLOAD + 2);
	memset(big, 'a', KT_JOSE_MAX_PAYLOAD + 1);
	assert_int_equal(kt_jws_key_sign(k, NULL, big, KT_JOSE_MAX_PAYLOAD + 1,
					 &jws, &err),
			 KT_ERR_LIMIT);
	assert_string_equal(err.msg, "payload of 262145 bytes exceeds 262144");
	free(big);
	assert_int_equal(kt_jws_key_sign(k, NULL, NULL, 2, &jws, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "kt_jws_key_sign: missing argument");
	assert_int_equal(kt_jws_key_sign(NULL, NULL, "{}", 2, &jws, &err),
			 KT_ERR_INVALID);
	/* The key is referenced: it outlives the caller's reference. */
	{
		EVP_PKEY *tmp = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		struct kt_jws_key *tk = NULL;
		assert_int_equal(kt_jws_key_new(tmp, "ES256", NULL, &tk, &err),
				 KT_OK);
		EVP_PKEY_free(tmp);
		assert_int_equal(
		    kt_jws_key_sign(tk, NULL, "{}", 2, &jws, &err), KT_OK);
		free(jws);
		kt_jws_key_free(tk);
	}
	kt_jws_key_free(k);
}

struct key_thread {
	struct kt_jws_key *key;
	int failures;
};

static void *key_worker(void *arg)
{
	struct key_thread *t = arg;

	for (int i = 0; i < 30; i++) {
		char *jws = NULL;
		json_t *h = NULL, *pl = NULL;
		if (kt_jws_key_sign(t->key, NULL, "{\"a\":1}", 7, &jws, NULL) !=
			KT_OK ||
		    kt_jwt_decode_unverified(jws, KT_JOSE_MAX_COMPACT, &h, NULL,
					     NULL) != KT_OK ||
		    kt_jws_key_verify(t->key, jws, h, &pl, NULL) != KT_OK ||
		    json_integer_value(json_object_get(pl, "a")) != 1)
			t->failures++;
		json_decref(h);
		json_decref(pl);
		free(jws);
	}
	return NULL;
}

/* More threads than a prepared key keeps idle contexts: the pool grows
 * and shrinks under load (the sanitizer build checks the locking). */
static void test_key_concurrent(void **state)
{
	enum { N = 20 };
	pthread_t th[N];
	struct key_thread t[N];
	struct kt_jws_key *ek = NULL, *rk = NULL;

	assert_int_equal(kt_jws_key_new(ec1, "ES256", "e", &ek, NULL), KT_OK);
	assert_int_equal(kt_jws_key_new(rsa1, "RS256", "r", &rk, NULL), KT_OK);
	for (int i = 0; i < N; i++) {
		t[i].key = i % 4 ? ek : rk;
		t[i].failures = 0;
		assert_int_equal(
		    pthread_create(&th[i], NULL, key_worker, &t[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(t[i].failures, 0);
	}
	kt_jws_key_free(ek);
	kt_jws_key_free(rk);
}

/* ---- at_hash ---- */

static void test_at_hash(void **state)
{
	char h[KT_JOSE_THUMBPRINT_LEN];

	/*
	 * A Google-issued RS256 id_token (published in a 2015 Q&A about
	 * at_hash) carried at_hash "aUAkJG-u6x4RTWuILWy-CA" for this token.
	 */
	assert_int_equal(
	    kt_jose_at_hash(
		"RS256",
		"ya29.eQETFbFOkAs8nWHcmYXKwEi0Zz46NfsrUU_KuQLOLTwWS40"
		"y6Fb99aVzEXC0U14m61lcPMIr1hEIBA",
		h),
	    KT_OK);
	assert_string_equal(h, "aUAkJG-u6x4RTWuILWy-CA");
	/* Same hash for ES256 (both use SHA-256). */
	assert_int_equal(kt_jose_at_hash("ES256", "abc", h), KT_OK);
	assert_string_equal(h, "ungWv48Bz-pBQUDeXa4iIw");
	assert_int_equal(kt_jose_at_hash("RS384", "abc", h),
			 KT_ERR_UNSUPPORTED);
	assert_string_equal(h, "");
	assert_int_equal(kt_jose_at_hash("none", "abc", h), KT_ERR_UNSUPPORTED);
}

/* ---- unverified decoding ---- */

static void expect_decode_fail(const char *in, size_t max, int code,
			       const char *msg)
{
	struct kt_error err = {0};
	json_t *h = (json_t *)1, *p = (json_t *)1;

	assert_int_equal(kt_jwt_decode_unverified(in, max, &h, &p, &err), code);
	assert_string_equal(err.msg, msg);
	assert_null(h);
	assert_null(p);
}

static void test_decode_unverified(void **state)
{
	struct kt_error err = {0};
	json_t *h = NULL, *p = NULL;
	/* {"alg":"RS256"} . {"iss":"c1"} . "sig" */
	const char *tok = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJjMSJ9.c2ln";
	char buf[256];

	assert_int_equal(kt_jwt_decode_unverified(tok, 100, &h, &p, &err),
			 KT_OK);
	assert_string_equal(json_string_value(json_object_get(h, "alg")),
			    "RS256");
	assert_string_equal(json_string_value(json_object_get(p, "iss")), "c1");
	json_decref(h);
	json_decref(p);
	/* Header only. */
	assert_int_equal(kt_jwt_decode_unverified(tok, 100, &h, NULL, &err),
			 KT_OK);
	json_decref(h);

	expect_decode_fail(tok, 20, KT_ERR_LIMIT,
			   "JWS is longer than 20 bytes");
	expect_decode_fail("abc", 100, KT_ERR_INVALID,
			   "JWS must have 3 dot-separated parts, found 1");
	expect_decode_fail("a.b.c.d.e", 100, KT_ERR_INVALID,
			   "JWS must have 3 dot-separated parts, found 5");
	expect_decode_fail(".eyJpc3MiOiJjMSJ9.c2ln", 100, KT_ERR_INVALID,
			   "JWS header is empty");
	expect_decode_fail("eyJhbGciOiJSUzI1NiJ9..c2ln", 100, KT_ERR_INVALID,
			   "JWS payload is empty");
	expect_decode_fail("eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJjMSJ9.c2+n", 100,
			   KT_ERR_INVALID,
			   "JWS signature is not valid base64url");
	expect_decode_fail("eyJhbGc*OiJSUzI1NiJ9.eyJpc3MiOiJjMSJ9.c2ln", 100,
			   KT_ERR_INVALID, "JWS header is not valid base64url");
	/* "[1]" */
	expect_decode_fail("WzFd.eyJpc3MiOiJjMSJ9.c2ln", 100, KT_ERR_INVALID,
			   "JWS header is not a JSON object");
	/* "{x" */
	expect_decode_fail("e3g.eyJpc3MiOiJjMSJ9.c2ln", 100, KT_ERR_INVALID,
			   "JWS header is not valid JSON (line 1, column 2)");
	/* {"a":1,"a":2} */
	expect_decode_fail("eyJhIjoxLCJhIjoyfQ.eyJpc3MiOiJjMSJ9.c2ln", 100,
			   KT_ERR_INVALID,
			   "JWS header is not valid JSON (line 1, column 10)");
	/* payload "null" */
	expect_decode_fail("eyJhbGciOiJSUzI1NiJ9.bnVsbA.c2ln", 100,
			   KT_ERR_INVALID, "JWS payload is not a JSON object");
	expect_decode_fail(NULL, 100, KT_ERR_INVALID, "no JWS given");

	/* A NUL-free input longer than the bound is never read past it. */
	memset(buf, 'A', sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	expect_decode_fail(buf, 64, KT_ERR_LIMIT,
			   "JWS is longer than 64 bytes");
}

/* ---- verify_jwks (client assertions) ---- */

static const char *assertion_payload =
    "{\"iss\":\"client1\",\"sub\":\"client1\",\"aud\":\"https://idp\","
    "\"jti\":\"j1\",\"exp\":4102444800}";

static void expect_jwks_fail(const char *tok, json_t *jwks,
			     const char *const *algs, int code, const char *msg)
{
	struct kt_error err = {0};
	json_t *pl = (json_t *)1;

	assert_int_equal(kt_jws_verify_jwks(tok, jwks, algs, &pl, &err), code);
	assert_string_equal(err.msg, msg);
	assert_null(pl);
}

static void test_jwks_good(void **state)
{
	struct kt_error err = {0};
	json_t *jwks, *pl = NULL;
	char *tok = NULL;

	jwks = jwks_of(jwk_for(ec1, "ec-1"), jwk_for(rsa1, "rsa-1"), NULL);

	/* Produced by our own signer, checked by cjose: ES256 raw format. */
	assert_int_equal(kt_jws_sign(ec1, "ES256", "ec-1", NULL,
				     assertion_payload,
				     strlen(assertion_payload), &tok, &err),
			 KT_OK);
	assert_int_equal(kt_jws_verify_jwks(tok, jwks, all_algs, &pl, &err),
			 KT_OK);
	assert_string_equal(json_string_value(json_object_get(pl, "iss")),
			    "client1");
	json_decref(pl);
	free(tok);

	assert_int_equal(kt_jws_sign(rsa1, "RS256", "rsa-1", "JWT",
				     assertion_payload,
				     strlen(assertion_payload), &tok, &err),
			 KT_OK);
	assert_int_equal(kt_jws_verify_jwks(tok, jwks, all_algs, NULL, &err),
			 KT_OK);
	free(tok);

	/* Independently produced ES256 and PS256 assertions. */
	tok = sign_custom(ec1, "ES256", "{\"alg\":\"ES256\",\"kid\":\"ec-1\"}",
			  assertion_payload);
	assert_int_equal(kt_jws_verify_jwks(tok, jwks, all_algs, NULL, &err),
			 KT_OK);
	free(tok);
	tok =
	    sign_custom(rsa1, "PS256", "{\"alg\":\"PS256\",\"kid\":\"rsa-1\"}",
			assertion_payload);
	assert_int_equal(kt_jws_verify_jwks(tok, jwks, all_algs, NULL, &err),
			 KT_OK);
	free(tok);
	json_decref(jwks);
}

static void test_jwks_no_kid_tries_each(void **state)
{
	struct kt_error err = {0};
	json_t *jwks;
	char *tok;

	/* EC key first (wrong kty, skipped), wrong RSA key, then the right one.
	 */
	jwks =
	    jwks_of(jwk_for(ec1, "a"), jwk_for(rsa2, "b"), jwk_for(rsa1, "c"));
	tok = sign_custom(rsa1, "RS256", "{\"alg\":\"RS256\"}",
			  assertion_payload);
	assert_int_equal(kt_jws_verify_jwks(tok, jwks, all_algs, NULL, &err),
			 KT_OK);
	free(tok);
	json_decref(jwks);

	/* Only keys of another type: nothing to try. */
	jwks = jwks_of(jwk_for(ec1, "a"), NULL, NULL);
	tok = sign_custom(rsa1, "RS256", "{\"alg\":\"RS256\"}",
			  assertion_payload);
	expect_jwks_fail(tok, jwks, all_algs, KT_ERR_NOTFOUND,
			 "no key in the client's JWKS has kty 'RSA' for alg "
			 "'RS256'");
	free(tok);
	json_decref(jwks);
}

static void test_jwks_wrong_key(void **state)
{
	json_t *jwks =
	    jwks_of(jwk_for(rsa2, "rsa-1"), jwk_for(ec2, "ec-1"), NULL);
	char *tok;

	tok =
	    sign_custom(rsa1, "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa-1\"}",
			assertion_payload);
	expect_jwks_fail(tok, jwks, all_algs, KT_ERR_DENIED,
			 "signature verification failed");
	free(tok);
	tok = sign_custom(ec1, "ES256", "{\"alg\":\"ES256\",\"kid\":\"ec-1\"}",
			  assertion_payload);
	expect_jwks_fail(tok, jwks, all_algs, KT_ERR_DENIED,
			 "signature verification failed");
	free(tok);
	/* kid names an EC key but the token claims RS256. */
	tok = sign_custom(rsa1, "RS256", "{\"alg\":\"RS256\",\"kid\":\"ec-1\"}",
			  assertion_payload);
	expect_jwks_fail(tok, jwks, all_algs, KT_ERR_NOTFOUND,
			 "key 'ec-1' has kty 'EC', which cannot verify alg "
			 "'RS256'");
	free(tok);
	json_decref(jwks);
}

static void test_jwks_alg_none(void **state)
{
	json_t *jwks = jwks_of(jwk_for(rsa1, "rsa-1"), NULL, NULL);
	/* {"alg":"none"} . payload . (empty) */
	char tok[512], *p64 = b64(assertion_payload, strlen(assertion_payload));
	const char *const with_none[] = {"none", "RS256", NULL};

	snprintf(tok, sizeof(tok), "eyJhbGciOiJub25lIn0.%s.", p64);
	expect_jwks_fail(tok, jwks, all_algs, KT_ERR_DENIED,
			 "alg 'none' is not allowed");
	/* Even if the client's configuration lists it. */
	expect_jwks_fail(tok, jwks, with_none, KT_ERR_DENIED,
			 "alg 'none' is not allowed");
	/* {"alg":"None"} */
	snprintf(tok, sizeof(tok), "eyJhbGciOiJOb25lIn0.%s.", p64);
	expect_jwks_fail(tok, jwks, all_algs, KT_ERR_DENIED,
			 "alg 'None' is not allowed");
	free(p64);
	json_decref(jwks);
}

static void test_jwks_hs256_confusion(void **state)
{
	/*
	 * The classic attack: HMAC the token with the client's *public* key
	 * (PEM, as a naive library would use it) and hope the verifier takes
	 * the header's alg and the JWKS key as an HMAC secret.
	 */
	json_t *jwks = jwks_of(jwk_for(rsa1, "rsa-1"), NULL, NULL);
	const char *const with_hs[] = {"HS256", "RS256", NULL};
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem, *h64, *p64, input[1024], tok[1200], *s64;
	const char *hdr = "{\"alg\":\"HS256\",\"kid\":\"rsa-1\"}";
	uint8_t mac[32];
	unsigned int maclen = sizeof(mac);
	long pemlen;

	assert_int_equal(PEM_write_bio_PUBKEY(bio, rsa1), 1);
	pemlen = BIO_get_mem_data(bio, &pem);
	h64 = b64(hdr, strlen(hdr));
	p64 = b64(assertion_payload, strlen(assertion_payload));
	snprintf(input, sizeof(input), "%s.%s", h64, p64);
	HMAC(EVP_sha256(), pem, (int)pemlen, (const uint8_t *)input,
	     strlen(input), mac, &maclen);
	s64 = b64(mac, maclen);
	snprintf(tok, sizeof(tok), "%s.%s", input, s64);

	expect_jwks_fail(tok, jwks, all_algs, KT_ERR_DENIED,
			 "alg 'HS256' is not allowed: symmetric algorithms are "
			 "never accepted");
	expect_jwks_fail(tok, jwks, with_hs, KT_ERR_DENIED,
			 "alg 'HS256' is not allowed: symmetric algorithms are "
			 "never accepted");
	/* Same with an "oct" key in the JWKS. */
	json_array_append_new(json_object_get(jwks, "keys"),
			      json_pack("{s:s,s:s,s:s}", "kty", "oct", "kid",
					"rsa-1", "k", "c2VjcmV0"));
	expect_jwks_fail(tok, jwks, with_hs, KT_ERR_DENIED,
			 "alg 'HS256' is not allowed: symmetric algorithms are "
			 "never accepted");
	BIO_free(bio);
	free(h64);
	free(p64);
	free(s64);
	json_decref(jwks);
}

static void test_jwks_tampered(void **state)
{
	json_t *jwks =
	    jwks_of(jwk_for(rsa1, "rsa-1"), jwk_for(ec1, "ec-1"), NULL);
	const char *evil = "{\"iss\":\"client2\",\"sub\":\"client2\"}";
	char *tok, *h, *p, *s, forged[2048], *p64;

	p64 = b64(evil, strlen(evil));
	tok =
	    sign_custom(rsa1, "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa-1\"}",
			assertion_payload);
	split3(tok, &h, &p, &s);
	snprintf(forged, sizeof(forged), "%s.%s.%s", h, p64, s);
	expect_jwks_fail(forged, jwks, all_algs, KT_ERR_DENIED,
			 "signature verification failed");
	free(tok);

	tok = sign_custom(ec1, "ES256", "{\"alg\":\"ES256\",\"kid\":\"ec-1\"}",
			  assertion_payload);
	split3(tok, &h, &p, &s);
	snprintf(forged, sizeof(forged), "%s.%s.%s", h, p64, s);
	expect_jwks_fail(forged, jwks, all_algs, KT_ERR_DENIED,
			 "signature verification failed");
	/* A signature of the wrong length never reaches cjose. */
	snprintf(forged, sizeof(forged), "%s.%s.%.40s", h, p, s);
	expect_jwks_fail(forged, jwks, all_algs, KT_ERR_DENIED,
			 "signature verification failed");
	free(tok);
	free(p64);
	json_decref(jwks);
}

static void test_jwks_kid_and_keys(void **state)
{
	json_t *jwks = jwks_of(jwk_for(rsa1, "rsa-1"), NULL, NULL);
	const char *const es_only[] = {"ES256", NULL};
	const char *const bogus[] = {"RS384", NULL};
	char *tok;
	json_t *k;

	tok = sign_custom(rsa1, "RS256", "{\"alg\":\"RS256\",\"kid\":\"x\"}",
			  assertion_payload);
	expect_jwks_fail(tok, jwks, all_algs, KT_ERR_NOTFOUND,
			 "no key in the client's JWKS matches kid 'x'");
	free(tok);

	tok = sign_custom(rsa1, "RS256", "{\"alg\":\"RS256\",\"kid\":7}",
			  assertion_payload);
	expect_jwks_fail(tok, jwks, all_algs, KT_ERR_INVALID,
			 "JWS kid is not a string");
	free(tok);

	tok =
	    sign_custom(rsa1, "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa-1\"}",
			assertion_payload);
	/* The client only registered ES256. */
	expect_jwks_fail(tok, jwks, es_only, KT_ERR_DENIED,
			 "alg 'RS256' is not allowed for this client");
	expect_jwks_fail(tok, jwks, NULL, KT_ERR_DENIED,
			 "alg 'RS256' is not allowed for this client");
	/* An encryption key is not used for signatures. */
	k = json_array_get(json_object_get(jwks, "keys"), 0);
	json_object_set_new(k, "use", json_string("enc"));
	expect_jwks_fail(tok, jwks, all_algs, KT_ERR_NOTFOUND,
			 "key 'rsa-1' is not a signing key (use 'enc')");
	json_object_set_new(k, "use", json_string("sig"));
	json_object_set_new(k, "alg", json_string("PS256"));
	expect_jwks_fail(tok, jwks, all_algs, KT_ERR_NOTFOUND,
			 "key 'rsa-1' is registered for alg 'PS256', not "
			 "'RS256'");
	json_object_set_new(k, "alg", json_string("RS256"));
	assert_int_equal(kt_jws_verify_jwks(tok, jwks, all_algs, NULL, NULL),
			 KT_OK);
	free(tok);
	json_decref(jwks);

	/* An unsupported alg is refused even if "allowed". */
	tok = sign_custom(rsa1, "RS256", "{\"alg\":\"RS384\"}",
			  assertion_payload);
	expect_jwks_fail(tok, jwks, bogus, KT_ERR_DENIED,
			 "alg 'RS384' is not supported");
	free(tok);

	/* A 1024-bit client key is too weak. */
	jwks = jwks_of(jwk_for(rsa1024, "weak"), NULL, NULL);
	tok = sign_custom(rsa1024, "RS256",
			  "{\"alg\":\"RS256\",\"kid\":\"weak\"}",
			  assertion_payload);
	expect_jwks_fail(tok, jwks, all_algs, KT_ERR_NOTFOUND,
			 "RSA key 'weak' has 1024 bits; 2048 to 8192 are "
			 "accepted");
	free(tok);
	json_decref(jwks);

	/* crit extensions are not understood, hence refused. */
	jwks = jwks_of(jwk_for(rsa1, "rsa-1"), NULL, NULL);
	tok = sign_custom(rsa1, "RS256",
			  "{\"alg\":\"RS256\",\"kid\":\"rsa-1\","
			  "\"crit\":[\"exp\"],\"exp\":1}",
			  assertion_payload);
	expect_jwks_fail(tok, jwks, all_algs, KT_ERR_INVALID,
			 "JWS crit header is not supported");
	free(tok);

	/* Malformed JWKS. */
	tok =
	    sign_custom(rsa1, "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa-1\"}",
			assertion_payload);
	{
		json_t *bad = json_pack("{s:s}", "keys", "nope");
		json_t *many = json_pack("{s:[]}", "keys");
		expect_jwks_fail(tok, bad, all_algs, KT_ERR_INVALID,
				 "the client's JWKS has no \"keys\" array");
		for (int i = 0; i < KT_JOSE_MAX_JWKS_KEYS + 1; i++)
			json_array_append_new(json_object_get(many, "keys"),
					      jwk_for(rsa1, "rsa-1"));
		expect_jwks_fail(tok, many, all_algs, KT_ERR_LIMIT,
				 "the client's JWKS has more than 32 keys");
		json_decref(bad);
		json_decref(many);
	}
	free(tok);
	json_decref(jwks);
}

static void test_jwks_oversize_and_garbage(void **state)
{
	json_t *jwks = jwks_of(jwk_for(rsa1, "rsa-1"), NULL, NULL);
	char *big = malloc(KT_JOSE_MAX_COMPACT + 2);

	memset(big, 'A', KT_JOSE_MAX_COMPACT + 1);
	big[10] = '.';
	big[20] = '.';
	big[KT_JOSE_MAX_COMPACT + 1] = '\0';
	expect_jwks_fail(big, jwks, all_algs, KT_ERR_LIMIT,
			 "JWS is longer than 16384 bytes");
	free(big);

	expect_jwks_fail("", jwks, all_algs, KT_ERR_INVALID,
			 "JWS must have 3 dot-separated parts, found 1");
	expect_jwks_fail("garbage", jwks, all_algs, KT_ERR_INVALID,
			 "JWS must have 3 dot-separated parts, found 1");
	expect_jwks_fail("a.b.c.d.e", jwks, all_algs, KT_ERR_INVALID,
			 "JWS must have 3 dot-separated parts, found 5");
	expect_jwks_fail("!!.eyJ9.c2ln", jwks, all_algs, KT_ERR_INVALID,
			 "JWS header is not valid base64url");
	/* {"typ":"JWT"} */
	expect_jwks_fail("eyJ0eXAiOiJKV1QifQ.eyJ9.c2ln", jwks, all_algs,
			 KT_ERR_INVALID, "JWS header has no alg string");
	/* {"alg":"RS256"} with an empty signature. */
	expect_jwks_fail("eyJhbGciOiJSUzI1NiJ9.eyJ9.", jwks, all_algs,
			 KT_ERR_DENIED, "JWS has no signature");
	expect_jwks_fail(NULL, jwks, all_algs, KT_ERR_INVALID, "no JWS given");
	json_decref(jwks);
}

/* ---- JWK normalisation and key selection ---- */

static void expect_normalize_fail(json_t *jwk, int code, const char *msg)
{
	struct kt_error err = {0};
	json_t *out = (json_t *)1;

	assert_int_equal(kt_jwk_normalize(jwk, &out, &err), code);
	assert_string_equal(err.msg, msg);
	assert_null(out);
	json_decref(jwk);
}

/* base64url of the coordinate without its leading zero bytes. */
static char *strip_zeros(const char *coord)
{
	size_t n;
	uint8_t *raw = unb64(coord, strlen(coord), &n), *p = raw;
	char *s;

	while (n > 1 && *p == 0) {
		p++;
		n--;
	}
	s = b64(p, n);
	free(raw);
	return s;
}

/* A P-256 key with a zero first byte in x or y: about one in 128. */
static EVP_PKEY *ec_key_with_short_coordinate(const char **which)
{
	for (int i = 0; i < 20000; i++) {
		EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		json_t *j = NULL;
		size_t n;
		uint8_t *x, *y;
		int zx, zy;

		assert_int_equal(kt_jwk_from_pkey(k, &j), KT_OK);
		x = unb64(json_string_value(json_object_get(j, "x")), 43, &n);
		y = unb64(json_string_value(json_object_get(j, "y")), 43, &n);
		zx = x[0] == 0;
		zy = y[0] == 0;
		free(x);
		free(y);
		json_decref(j);
		if (zx || zy) {
			*which = zx ? "x" : "y";
			return k;
		}
		EVP_PKEY_free(k);
	}
	fail_msg("no P-256 key with a short coordinate in 20000 tries");
	return NULL;
}

static void test_jwk_normalize(void **state)
{
	struct kt_error err = {0};
	json_t *in, *out = NULL;
	EVP_PKEY *k;
	const char *which = NULL;
	char *short_c;

	/* RSA: only kty, kid, n, e survive; private members never. */
	in = jwk_for(rsa1, "r1");
	json_object_set_new(in, "use", json_string("sig"));
	json_object_set_new(in, "alg", json_string("RS256"));
	json_object_set_new(in, "d", json_string("AQAB"));
	json_object_set_new(in, "x5c", json_pack("[s]", "MIIB"));
	assert_int_equal(kt_jwk_normalize(in, &out, &err), KT_OK);
	assert_int_equal(json_object_size(out), 4);
	assert_string_equal(json_string_value(json_object_get(out, "kty")),
			    "RSA");
	assert_string_equal(json_string_value(json_object_get(out, "kid")),
			    "r1");
	assert_true(
	    json_equal(json_object_get(out, "n"), json_object_get(in, "n")));
	json_decref(out);
	json_decref(in);

	/* EC without kid: kty, crv, x, y. */
	in = jwk_for(ec1, NULL);
	assert_int_equal(kt_jwk_normalize(in, &out, &err), KT_OK);
	assert_true(json_equal(in, out));
	json_decref(out);
	json_decref(in);

	/* A coordinate stripped of its leading zero comes back padded. */
	k = ec_key_with_short_coordinate(&which);
	in = jwk_for(k, "short");
	out = json_deep_copy(in);
	short_c = strip_zeros(json_string_value(json_object_get(in, which)));
	assert_true(strlen(short_c) < 43);
	json_object_set_new(out, which, json_string(short_c));
	{
		json_t *norm = NULL;
		assert_int_equal(kt_jwk_normalize(out, &norm, &err), KT_OK);
		assert_true(json_equal(norm, in));
		json_decref(norm);
	}
	/* ... which is what lets cjose verify with such a key at all. */
	{
		json_t *jwks = jwks_of(json_incref(out), NULL, NULL);
		char *tok = sign_custom(k, "ES256",
					"{\"alg\":\"ES256\",\"kid\":\"short\"}",
					assertion_payload);
		assert_int_equal(
		    kt_jws_verify_jwks(tok, jwks, all_algs, NULL, &err), KT_OK);
		free(tok);
		json_decref(jwks);
	}
	free(short_c);
	json_decref(out);
	json_decref(in);
	EVP_PKEY_free(k);

	expect_normalize_fail(json_pack("{s:s,s:s,s:s}", "kty", "oct", "kid",
					"k1", "k", "c2VjcmV0"),
			      KT_ERR_UNSUPPORTED,
			      "key 'k1' has kty 'oct'; only RSA and EC keys "
			      "are used");
	expect_normalize_fail(json_pack("{s:s}", "kid", "k1"),
			      KT_ERR_UNSUPPORTED,
			      "key 'k1' has kty '(none)'; only RSA and EC keys "
			      "are used");
	in = jwk_for(ec1, NULL);
	json_object_set_new(in, "crv", json_string("P-384"));
	expect_normalize_fail(in, KT_ERR_UNSUPPORTED,
			      "key '(no kid)' has curve 'P-384'; only P-256 "
			      "is supported");
	in = jwk_for(ec1, "e");
	json_object_set_new(in, "x", json_string("AQAAA=AB"));
	expect_normalize_fail(in, KT_ERR_INVALID,
			      "key 'e' has no valid P-256 coordinates");
	in = jwk_for(ec1, "e");
	/* 33 bytes */
	json_object_set_new(
	    in, "y",
	    json_string("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB"));
	expect_normalize_fail(in, KT_ERR_INVALID,
			      "key 'e' has no valid P-256 coordinates");
	in = jwk_for(rsa1, "r");
	json_object_del(in, "e");
	expect_normalize_fail(in, KT_ERR_INVALID,
			      "key 'r' has no valid modulus or exponent");
	expect_normalize_fail(json_string("x"), KT_ERR_INVALID,
			      "JWK is not an object");
}

static void expect_select_fail(const char *tok, json_t *jwks, int code,
			       const char *msg)
{
	struct kt_error err = {0};
	json_t *keys = (json_t *)1;

	assert_int_equal(kt_jws_select_keys(tok, jwks, all_algs, &keys, &err),
			 code);
	assert_string_equal(err.msg, msg);
	assert_null(keys);
}

static void test_select_keys(void **state)
{
	static const uint8_t secret[] = "0123456789abcdef0123456789abcdef";
	struct kt_error err = {0};
	json_t *oct = json_pack("{s:s,s:s,s:s}", "kty", "oct", "kid", "k1", "k",
				"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY");
	/* The oct key first, then two EC keys with the same kid. */
	json_t *jwks = jwks_of(oct, jwk_for(ec1, "k1"), jwk_for(ec2, "k1"));
	json_t *keys = NULL, *rsa;
	char *tok;

	tok = sign_custom(ec1, "ES256", "{\"alg\":\"ES256\",\"kid\":\"k1\"}",
			  assertion_payload);
	assert_int_equal(kt_jws_select_keys(tok, jwks, all_algs, &keys, &err),
			 KT_OK);
	assert_int_equal(json_array_size(keys), 2);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(keys, 0), "kty")),
	    "EC");
	assert_true(
	    json_equal(json_array_get(keys, 0),
		       json_array_get(json_object_get(jwks, "keys"), 1)));
	json_decref(keys);
	free(tok);

	/* HMAC with the JWKS's own secret: refused before any key. */
	tok =
	    sign_hs256(secret, sizeof(secret) - 1,
		       "{\"alg\":\"HS256\",\"kid\":\"k1\"}", assertion_payload);
	expect_select_fail(tok, jwks, KT_ERR_DENIED,
			   "alg 'HS256' is not allowed: symmetric algorithms "
			   "are never accepted");
	free(tok);

	/* RS256 named, only oct and EC keys under the kid. */
	rsa = jwk_for(rsa1, "r1");
	tok = sign_custom(rsa1, "RS256", "{\"alg\":\"RS256\",\"kid\":\"k1\"}",
			  assertion_payload);
	expect_select_fail(tok, jwks, KT_ERR_NOTFOUND,
			   "key 'k1' has kty 'oct', which cannot verify alg "
			   "'RS256'");
	free(tok);
	/* Without kid: every key of the alg's type, none of the others. */
	json_array_append_new(json_object_get(jwks, "keys"), rsa);
	tok = sign_custom(rsa1, "PS256", "{\"alg\":\"PS256\"}",
			  assertion_payload);
	assert_int_equal(kt_jws_select_keys(tok, jwks, all_algs, &keys, &err),
			 KT_OK);
	assert_int_equal(json_array_size(keys), 1);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(keys, 0), "kid")),
	    "r1");
	json_decref(keys);
	free(tok);

	tok = sign_custom(ec1, "ES256", "{\"alg\":\"ES256\",\"kid\":\"k9\"}",
			  assertion_payload);
	expect_select_fail(tok, jwks, KT_ERR_NOTFOUND,
			   "no key in the client's JWKS matches kid 'k9'");
	free(tok);
	assert_int_equal(
	    kt_jws_select_keys("a.b.c", jwks, all_algs, NULL, &err),
	    KT_ERR_INVALID);
	json_decref(jwks);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_thumbprint_rfc7638),
	    cmocka_unit_test(test_thumbprint_ec),
	    cmocka_unit_test(test_jwk_from_pkey),
	    cmocka_unit_test(test_sign_rs256),
	    cmocka_unit_test(test_sign_es256),
	    cmocka_unit_test(test_sign_rejects),
	    cmocka_unit_test(test_sign_concurrent),
	    cmocka_unit_test(test_verify_pkey),
	    cmocka_unit_test(test_key_sign_verify),
	    cmocka_unit_test(test_key_rejects),
	    cmocka_unit_test(test_key_concurrent),
	    cmocka_unit_test(test_at_hash),
	    cmocka_unit_test(test_decode_unverified),
	    cmocka_unit_test(test_jwks_good),
	    cmocka_unit_test(test_jwks_no_kid_tries_each),
	    cmocka_unit_test(test_jwks_wrong_key),
	    cmocka_unit_test(test_jwks_alg_none),
	    cmocka_unit_test(test_jwks_hs256_confusion),
	    cmocka_unit_test(test_jwks_tampered),
	    cmocka_unit_test(test_jwks_kid_and_keys),
	    cmocka_unit_test(test_jwks_oversize_and_garbage),
	    cmocka_unit_test(test_jwk_normalize),
	    cmocka_unit_test(test_select_keys),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
