/*
 * idp/federation.c, kt_fed_id_token_verify: the upstream ID token's
 * signature (and iat) by liboauth2's token verifier with the keys chosen
 * from the provider's JWKS, exp (with 120 s of leeway) by kt_o2_jwt_verify.
 * Tokens are made with OpenSSL directly (jws_sign.h) or kt_jws_sign;
 * liboauth2's log goes to a pipe, where no token may ever show up.
 */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "kontor/err.h"
#include "kontor/jose.h"
#include "kontor/log.h"
#include "kontor/util.h"

#include "federation.h"
#include "jws_sign.h"

#define REFUSED "liboauth2's token verifier refused it (signature or iat)"

static EVP_PKEY *rsa, *ec1, *ec2;
static int pfd[2] = {-1, -1};
static char captured[65536];

static int group_setup(void **state)
{
	rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	ec1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ec2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (pipe(pfd) != 0)
		return -1;
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	kt_log_init(KT_LOG_WARN, pfd[1]);
	return rsa && ec1 && ec2 ? 0 : -1;
}

static int group_teardown(void **state)
{
	kt_log_init(KT_LOG_INFO, 2);
	close(pfd[0]);
	close(pfd[1]);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec1);
	EVP_PKEY_free(ec2);
	return 0;
}

/* Everything logged since the last call. */
static const char *drain(void)
{
	size_t n = 0;
	ssize_t r;

	while ((r = read(pfd[0], captured + n, sizeof(captured) - 1 - n)) > 0)
		n += (size_t)r;
	captured[n] = '\0';
	return captured;
}

static json_t *jwk_of(EVP_PKEY *key, const char *kid)
{
	json_t *j = NULL;

	assert_int_equal(kt_jwk_from_pkey(key, &j), KT_OK);
	if (kid != NULL)
		json_object_set_new(j, "kid", json_string(kid));
	return j;
}

/* {"keys":[...]} of up to three keys (references taken). */
static json_t *jwks3(json_t *a, json_t *b, json_t *c)
{
	json_t *keys = json_array();

	for (json_t **k = (json_t *[]){a, b, c, NULL}; *k; k++)
		json_array_append_new(keys, *k);
	return json_pack("{s:o}", "keys", keys);
}

/* ID token claims with exp and iat relative to now (0: left out). */
static char *claims(long iat_delta, long exp_delta)
{
	int64_t now = kt_now();
	json_t *c =
	    json_pack("{s:s,s:s,s:s,s:s}", "iss", "https://sh.example", "sub",
		      "legacy-1", "aud", "kontor", "nonce", "n-1");
	char *s;

	if (iat_delta != 0)
		json_object_set_new(c, "iat", json_integer(now + iat_delta));
	if (exp_delta != 0)
		json_object_set_new(c, "exp", json_integer(now + exp_delta));
	s = json_dumps(c, JSON_COMPACT);
	json_decref(c);
	assert_non_null(s);
	return s;
}

static char *sign_with(EVP_PKEY *key, const char *alg, const char *kid,
		       const char *payload)
{
	char hdr[128];

	if (kid != NULL)
		snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"%s\"}",
			 alg, kid);
	else
		snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\"}", alg);
	return sign_custom(key, alg, hdr, payload);
}

static void expect_ok(const char *tok, json_t *jwks)
{
	struct kt_error err = {0};
	json_t *c = NULL;

	if (kt_fed_id_token_verify(tok, jwks, &c, &err) != KT_OK)
		fail_msg("refused: %s", err.msg);
	assert_string_equal(json_string_value(json_object_get(c, "sub")),
			    "legacy-1");
	json_decref(c);
}

static void expect_fail(const char *tok, json_t *jwks, int code,
			const char *msg)
{
	struct kt_error err = {0};
	json_t *c = (json_t *)1;

	assert_int_equal(kt_fed_id_token_verify(tok, jwks, &c, &err), code);
	assert_null(c);
	if (msg != NULL)
		assert_string_equal(err.msg, msg);
}

static void test_good_tokens(void **state)
{
	struct kt_error err = {0};
	json_t *jwks = jwks3(jwk_of(ec1, "e1"), jwk_of(rsa, "r1"), NULL);
	char *pl = claims(-5, 300), *tok = NULL;

	/* kontor-idp as the upstream signs with kt_jws_sign. */
	assert_int_equal(
	    kt_jws_sign(ec1, "ES256", "e1", "JWT", pl, strlen(pl), &tok, &err),
	    KT_OK);
	expect_ok(tok, jwks);
	free(tok);
	assert_int_equal(
	    kt_jws_sign(rsa, "RS256", "r1", NULL, pl, strlen(pl), &tok, &err),
	    KT_OK);
	expect_ok(tok, jwks);
	free(tok);
	tok = sign_with(rsa, "PS256", "r1", pl);
	expect_ok(tok, jwks);
	free(tok);
	/* Without kid: the key of the alg's type. */
	tok = sign_with(ec1, "ES256", NULL, pl);
	expect_ok(tok, jwks);
	free(tok);
	/* iat a minute ahead is within the 120 s skew. */
	free(pl);
	pl = claims(60, 300);
	tok = sign_with(ec1, "ES256", "e1", pl);
	expect_ok(tok, jwks);
	free(tok);
	free(pl);
	json_decref(jwks);
	assert_string_equal(drain(), "");
}

/* x or y with a leading zero byte, as some providers publish it. */
static void test_short_ec_coordinate(void **state)
{
	for (int i = 0; i < 20000; i++) {
		EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		json_t *jwk = jwk_of(k, "short"), *jwks;
		const char *c = NULL;
		uint8_t raw[32];
		size_t n;
		char enc[48], *pl, *tok;

		for (const char *const *m =
			 (const char *const[]){"x", "y", NULL};
		     *m && c == NULL; m++) {
			const char *v =
			    json_string_value(json_object_get(jwk, *m));
			assert_int_equal(kt_b64url_decode(raw, sizeof(raw), &n,
							  v, strlen(v)),
					 KT_OK);
			if (raw[0] == 0)
				c = *m;
		}
		if (c == NULL) {
			json_decref(jwk);
			EVP_PKEY_free(k);
			continue;
		}
		kt_b64url_encode(enc, raw + 1, 31);
		json_object_set_new(jwk, c, json_string(enc));
		jwks = jwks3(jwk, NULL, NULL);
		pl = claims(-5, 300);
		tok = sign_with(k, "ES256", "short", pl);
		expect_ok(tok, jwks);
		free(tok);
		free(pl);
		json_decref(jwks);
		EVP_PKEY_free(k);
		return;
	}
	fail_msg("no P-256 key with a short coordinate in 20000 tries");
}

static void test_refused(void **state)
{
	static const uint8_t secret[] = "0123456789abcdef0123456789abcdef";
	json_t *oct = json_pack("{s:s,s:s,s:s}", "kty", "oct", "kid", "e1", "k",
				"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY");
	/* The secret first, under the EC key's kid. */
	json_t *jwks = jwks3(oct, jwk_of(ec1, "e1"), NULL);
	char *pl = claims(-5, 300), *tok, *bad;
	const char *log;

	/* HS256 with the JWKS's own "secret" never reaches liboauth2. */
	tok = sign_hs256(secret, sizeof(secret) - 1,
			 "{\"alg\":\"HS256\",\"kid\":\"e1\"}", pl);
	expect_fail(tok, jwks, KT_ERR_DENIED,
		    "alg 'HS256' is not allowed: symmetric algorithms are "
		    "never accepted");
	free(tok);
	/* An alg that does not fit the kid's key. */
	tok = sign_with(rsa, "RS256", "e1", pl);
	expect_fail(tok, jwks, KT_ERR_NOTFOUND,
		    "key 'e1' has kty 'oct', which cannot verify alg 'RS256'");
	free(tok);
	/* Unknown kid: the caller refetches the JWKS. */
	tok = sign_with(ec1, "ES256", "e9", pl);
	expect_fail(tok, jwks, KT_ERR_NOTFOUND,
		    "no key in the client's JWKS matches kid 'e9'");
	free(tok);
	expect_fail("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", jwks, KT_ERR_DENIED,
		    "alg 'none' is not allowed");
	assert_string_equal(drain(), "");

	/* Signed by another key under the right kid: liboauth2 says no. */
	tok = sign_with(ec2, "ES256", "e1", pl);
	expect_fail(tok, jwks, KT_ERR_DENIED, REFUSED);
	log = drain();
	assert_non_null(strstr(log, "liboauth2: cjose_jws_verify failed"));
	assert_null(strstr(log, "eyJ"));
	free(tok);
	/* A payload changed after signing. */
	tok = sign_with(ec1, "ES256", "e1", pl);
	bad = strdup(tok);
	bad[strchr(bad, '.') - bad + 5] ^= 1;
	expect_fail(bad, jwks, KT_ERR_DENIED, REFUSED);
	free(bad);
	free(tok);
	free(pl);

	/* exp: required, 120 s of leeway (ours: liboauth2 has none); iat: at
	 * most 120 s ahead. */
	pl = claims(-400, -10);
	tok = sign_with(ec1, "ES256", "e1", pl);
	expect_ok(tok, jwks);
	free(tok);
	free(pl);
	pl = claims(-400, -200);
	tok = sign_with(ec1, "ES256", "e1", pl);
	expect_fail(tok, jwks, KT_ERR_DENIED, "token expired");
	free(tok);
	free(pl);
	pl = claims(-5, 0);
	tok = sign_with(ec1, "ES256", "e1", pl);
	expect_fail(tok, jwks, KT_ERR_DENIED, "token without exp");
	free(tok);
	free(pl);
	drain();
	pl = claims(600, 900);
	tok = sign_with(ec1, "ES256", "e1", pl);
	expect_fail(tok, jwks, KT_ERR_DENIED, REFUSED);
	log = drain();
	assert_non_null(strstr(log, "\\\"iat\\\" validation failure"));
	assert_null(strstr(log, "eyJ"));
	free(tok);
	free(pl);

	/* Duplicate claim names: signed, but two parsers could disagree. */
	tok = sign_with(ec1, "ES256", "e1",
			"{\"sub\":\"a\",\"sub\":\"legacy-1\",\"exp\":"
			"4102444800}");
	expect_fail(tok, jwks, KT_ERR_INVALID, NULL);
	free(tok);
	json_decref(jwks);
}

/*
 * liboauth2 caches verification results by token; a hit must never stand
 * in for the signature check against the key we hand over now.
 */
static void test_no_result_cache(void **state)
{
	json_t *good = jwks3(jwk_of(ec1, "k1"), NULL, NULL);
	json_t *other = jwks3(jwk_of(ec2, "k1"), NULL, NULL);
	char *pl = claims(-5, 300), *tok = sign_with(ec1, "ES256", "k1", pl);

	expect_ok(tok, good);
	expect_fail(tok, other, KT_ERR_DENIED, REFUSED);
	expect_ok(tok, good);
	expect_fail(tok, other, KT_ERR_DENIED, REFUSED);
	drain();
	free(tok);
	free(pl);
	json_decref(good);
	json_decref(other);
}

struct worker {
	json_t *jwks;
	const char *good, *bad;
	int wrong;
};

static void *verify_worker(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < 25; i++) {
		struct kt_error err;
		json_t *c = NULL, *none = NULL;

		if (kt_fed_id_token_verify(w->good, w->jwks, &c, &err) !=
			KT_OK ||
		    kt_fed_id_token_verify(w->bad, w->jwks, &none, &err) !=
			KT_ERR_DENIED ||
		    none != NULL)
			w->wrong++;
		json_decref(c);
	}
	return NULL;
}

/* Loop threads verify at once; liboauth2's global state is shared. */
static void test_concurrent(void **state)
{
	json_t *jwks = jwks3(jwk_of(ec1, "k1"), jwk_of(rsa, "r1"), NULL);
	char *pl = claims(-5, 300);
	char *good = sign_with(rsa, "RS256", "r1", pl);
	char *bad = sign_with(ec2, "ES256", "k1", pl);
	struct worker w[4];
	pthread_t t[4];

	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){jwks, good, bad, 0};
		assert_int_equal(
		    pthread_create(&t[i], NULL, verify_worker, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].wrong, 0);
	}
	drain();
	free(good);
	free(bad);
	free(pl);
	json_decref(jwks);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_tokens),
	    cmocka_unit_test(test_short_ec_coordinate),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_no_result_cache),
	    cmocka_unit_test(test_concurrent),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
